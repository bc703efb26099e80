/*
 * Unit tests for src/webhook.c: the X-Hub-Signature-256 check against
 * vectors computed with openssl, the parser fed Meta-shaped deliveries
 * (the documented examples and what tests/sandbox/meta_sandbox.py
 * sends), every malformed shape we can think of, and the loss rules for
 * account_update events.
 *
 * JSON is written with single quotes for readability; sq() turns them
 * into double quotes (no test text contains an apostrophe).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <sodium.h>

#include "buf.h"
#include "webhook.h"
#include "harness.h"

#define DELIVERY(entries) \
	"{'object':'whatsapp_business_account','entry':[" entries "]}"
#define ENTRY(id, changes)   "{'id':'" id "','changes':[" changes "]}"
#define CHANGE(field, value) "{'value':" value ",'field':'" field "'}"
#define MSGVAL(lists) \
	"{'messaging_product':'whatsapp','metadata':{'display_phone_number':" \
	"'15550783881','phone_number_id':'106540352242922'}," lists "}"
#define WABA    "102290129340398"
#define PNID    "106540352242922"
#define PARTNER "8000000000001"

static char errbuf[256];

/* s with every ' turned into ", as a malloc'd string. */
static char *
sq(const char *s)
{
	char *p, *q;

	if ((p = strdup(s)) == NULL)
		abort();
	for (q = p; *q != '\0'; q++)
		if (*q == '\'')
			*q = '"';
	return p;
}

static enum webhook_err
parse(const char *squoted, struct webhook_batch *b)
{
	char            *j = sq(squoted);
	enum webhook_err rc;

	rc = webhook_parse(j, strlen(j), b, errbuf, sizeof(errbuf));
	free(j);
	return rc;
}

/* Parses a body that must be refused: MALFORMED, a reason, no events. */
static void
refused(const char *body, size_t len)
{
	struct webhook_batch b;

	errbuf[0] = '\0';
	CU_ASSERT_EQUAL(webhook_parse(body, len, &b, errbuf, sizeof(errbuf)),
	    WEBHOOK_MALFORMED);
	CU_ASSERT(errbuf[0] != '\0');
	CU_ASSERT_EQUAL(b.n, 0);
	CU_ASSERT_PTR_NULL(b.ev);
	webhook_batch_free(&b);
}

static void
refused_sq(const char *squoted)
{
	char *j = sq(squoted);

	refused(j, strlen(j));
	free(j);
}

/* --- Signature ------------------------------------------------------ */

#define SECRET  "app-secret-0123"
#define SIGBODY "{\"object\":\"whatsapp_business_account\",\"entry\":[]}"
/* printf %s SIGBODY | openssl dgst -sha256 -hmac app-secret-0123 */
#define SIGHEX \
	"84199fbd4a1e11c21a139a9c021114d2" \
	"008bfe4fdd754bc12ad059ac5c52d31f"

static int
sig(const char *header)
{
	return webhook_signature_ok(SECRET, header, SIGBODY, strlen(SIGBODY));
}

static void
test_sig_ok(void)
{
	char   up[80], key[101];
	size_t i;

	CU_ASSERT_EQUAL(sig("sha256=" SIGHEX), 1);
	snprintf(up, sizeof(up), "sha256=%s", SIGHEX);
	for (i = 7; up[i] != '\0'; i++)
		if (up[i] >= 'a' && up[i] <= 'f')
			up[i] -= 'a' - 'A';
	CU_ASSERT_EQUAL(sig(up), 1);
	/* A key longer than a SHA-256 block is hashed first (RFC 2104):
	   printf %s hello | openssl dgst -sha256 -hmac kkk...(100 k) */
	memset(key, 'k', 100);
	key[100] = '\0';
	CU_ASSERT_EQUAL(webhook_signature_ok(key,
	                    "sha256="
	                    "3fd578d761a4f6703009e92d2e8a0aea"
	                    "22ab9ab50d4ad250dc95d8c369dec3f5",
	                    "hello", 5),
	    1);
	/* An empty body is signed too. */
	CU_ASSERT_EQUAL(webhook_signature_ok(SECRET,
	                    "sha256="
	                    "f4ff8f59ac08ef3b192aaa215c03a281"
	                    "4b7813dbdd229d82acc82782e2bb8804",
	                    "", 0),
	    1);
}

static void
test_sig_bad(void)
{
	char h[100];
	char body[] = SIGBODY;

	/* Wrong value: last digit changed. */
	CU_ASSERT_EQUAL(sig("sha256=84199fbd4a1e11c21a139a9c021114d2"
	                    "008bfe4fdd754bc12ad059ac5c52d310"),
	    0);
	CU_ASSERT_EQUAL(sig(NULL), 0);
	CU_ASSERT_EQUAL(sig(""), 0);
	CU_ASSERT_EQUAL(sig("sha256="), 0);
	CU_ASSERT_EQUAL(sig("sha1=" SIGHEX), 0);
	CU_ASSERT_EQUAL(sig("SHA256=" SIGHEX), 0);
	CU_ASSERT_EQUAL(sig(SIGHEX), 0);
	CU_ASSERT_EQUAL(sig(" sha256=" SIGHEX), 0);
	CU_ASSERT_EQUAL(sig("sha256= " SIGHEX), 0);
	/* Truncated to 63 digits, and one digit too many. */
	snprintf(h, sizeof(h), "sha256=%.63s", SIGHEX);
	CU_ASSERT_EQUAL(sig(h), 0);
	CU_ASSERT_EQUAL(sig("sha256=" SIGHEX "0"), 0);
	CU_ASSERT_EQUAL(sig("sha256=" SIGHEX " "), 0);
	CU_ASSERT_EQUAL(sig("sha256=" SIGHEX SIGHEX), 0);
	/* Non-hex characters in place of hex ones. */
	snprintf(h, sizeof(h), "sha256=%s", SIGHEX);
	h[7 + 10] = 'g';
	CU_ASSERT_EQUAL(sig(h), 0);
	snprintf(h, sizeof(h), "sha256=%s", SIGHEX);
	h[7 + 63] = ':';
	CU_ASSERT_EQUAL(sig(h), 0);
	/* Body altered by one byte, or one byte shorter. */
	body[2] = 'O';
	CU_ASSERT_EQUAL(webhook_signature_ok(SECRET, "sha256=" SIGHEX, body,
	                    strlen(body)),
	    0);
	CU_ASSERT_EQUAL(webhook_signature_ok(SECRET, "sha256=" SIGHEX, SIGBODY,
	                    strlen(SIGBODY) - 1),
	    0);
	/* Another secret, or none. */
	CU_ASSERT_EQUAL(webhook_signature_ok("app-secret-0124",
	                    "sha256=" SIGHEX, SIGBODY, strlen(SIGBODY)),
	    0);
	CU_ASSERT_EQUAL(webhook_signature_ok("", "sha256=" SIGHEX, SIGBODY,
	                    strlen(SIGBODY)),
	    0);
	CU_ASSERT_EQUAL(webhook_signature_ok(NULL, "sha256=" SIGHEX, SIGBODY,
	                    strlen(SIGBODY)),
	    0);
	CU_ASSERT_EQUAL(webhook_signature_ok(SECRET, "sha256=" SIGHEX, NULL,
	                    10),
	    0);
}

/* --- Messages ------------------------------------------------------- */

/* Meta's documented text message example, spacing and all. */
static const char text_example[] =
    "{\n"
    "  'object': 'whatsapp_business_account',\n"
    "  'entry': [\n"
    "    {\n"
    "      'id': '102290129340398',\n"
    "      'changes': [\n"
    "        {\n"
    "          'value': {\n"
    "            'messaging_product': 'whatsapp',\n"
    "            'metadata': {\n"
    "              'display_phone_number': '15550783881',\n"
    "              'phone_number_id': '106540352242922'\n"
    "            },\n"
    "            'contacts': [\n"
    "              {\n"
    "                'profile': {\n"
    "                  'name': 'Sheena Nelson'\n"
    "                },\n"
    "                'wa_id': '16505551234'\n"
    "              }\n"
    "            ],\n"
    "            'messages': [\n"
    "              {\n"
    "                'from': '16505551234',\n"
    "                'id': 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAz"
    "ODEwMTQ0RgA=',\n"
    "                'timestamp': '1749416383',\n"
    "                'type': 'text',\n"
    "                'text': {\n"
    "                  'body': 'Does it come in another color?'\n"
    "                }\n"
    "              }\n"
    "            ]\n"
    "          },\n"
    "          'field': 'messages'\n"
    "        }\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}\n";

static void
test_text_message(void)
{
	struct webhook_batch  b;
	struct webhook_event *e;

	CU_ASSERT_EQUAL_FATAL(parse(text_example, &b), WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT_EQUAL(b.skipped, 0);
	e = &b.ev[0];
	CU_ASSERT_EQUAL(e->kind, WEBHOOK_MESSAGE);
	CU_ASSERT_STRING_EQUAL(e->waba_id, WABA);
	CU_ASSERT_STRING_EQUAL(e->phone_number_id, PNID);
	CU_ASSERT_STRING_EQUAL(e->id,
	    "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz"
	    "QTRBNjU5OUFFRTAzODEwMTQ0RgA=");
	CU_ASSERT_STRING_EQUAL(e->from, "16505551234");
	CU_ASSERT_STRING_EQUAL(e->type, "text");
	CU_ASSERT_STRING_EQUAL(e->text, "Does it come in another color?");
	CU_ASSERT_EQUAL(e->timestamp, 1749416383);
	CU_ASSERT_STRING_EQUAL(e->status, "");
	CU_ASSERT_STRING_EQUAL(e->event, "");
	CU_ASSERT_EQUAL(e->code, 0);
	webhook_batch_free(&b);
	CU_ASSERT_PTR_NULL(b.ev);
	CU_ASSERT_EQUAL(b.n, 0);
}

/*
 * Users with a username may have their number withheld: the sender is
 * then only the business-scoped user id (Meta, "Business-scoped user
 * IDs"). A message with neither, or a malformed id, is skipped.
 */
#define BSUID_MSG(fromfield) \
	"{'object':'whatsapp_business_account'," \
	"'entry':[{'id':'" WABA "','changes':[{'field':'messages','value':" \
	"{'messaging_product':'whatsapp','metadata':{'phone_number_id':'" PNID \
	"'},'messages':[{" fromfield "'id':'wamid.B1'," \
	"'timestamp':'1749416383','type':'text','text':{'body':'hi'}}]}}]}]}"

static void
test_bsuid_sender(void)
{
	static const char *bad[] = {
		BSUID_MSG(""),
		BSUID_MSG("'from_user_id':'us.1349',"),
		BSUID_MSG("'from_user_id':'US1349',"),
		BSUID_MSG("'from_user_id':'US.',"),
		BSUID_MSG("'from_user_id':'US.13-49',"),
		BSUID_MSG("'from_user_id':7,"),
		BSUID_MSG("'from':'12345678901234567890123456789012345',"),
	};
	struct webhook_batch b;
	size_t               i;

	CU_ASSERT_EQUAL_FATAL(
	    parse(BSUID_MSG("'from_user_id':'US.13491208655302741918',"), &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT_STRING_EQUAL(b.ev[0].from, "US.13491208655302741918");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "hi");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    parse(BSUID_MSG("'from_user_id':'US.ENT.11815799212886844830',"),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT_STRING_EQUAL(b.ev[0].from, "US.ENT.11815799212886844830");
	webhook_batch_free(&b);
	/* A number, when there is one, is what we keep. */
	CU_ASSERT_EQUAL_FATAL(
	    parse(BSUID_MSG("'from':'16505551234',"
	                    "'from_user_id':'US.13491208655302741918',"),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT_STRING_EQUAL(b.ev[0].from, "16505551234");
	webhook_batch_free(&b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(parse(bad[i], &b), WEBHOOK_OK);
		CU_ASSERT_EQUAL(b.n, 0);
		CU_ASSERT_EQUAL(b.skipped, 1);
		webhook_batch_free(&b);
	}
}

static void
test_image_message(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ENTRY(WABA,
	            CHANGE("messages",
	                MSGVAL(
	                    "'contacts':[{'profile':{'name':'Sheena'},'wa_id':"
	                    "'16505551234'}],'messages':[{'from':'16505551234','id':"
	                    "'wamid.IMG1','timestamp':'1749416500','type':'image','image':"
	                    "{'caption':'the red one','mime_type':'image/jpeg','sha256':"
	                    "'abc','id':'1003383421387256'}}]")))),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT_EQUAL(b.ev[0].kind, WEBHOOK_MESSAGE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].type, "image");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "");
	CU_ASSERT_STRING_EQUAL(b.ev[0].id, "wamid.IMG1");
	CU_ASSERT_EQUAL(b.ev[0].timestamp, 1749416500);
	webhook_batch_free(&b);
}

/* --- Statuses and errors -------------------------------------------- */

#define PRICING \
	"'pricing':{'billable':false,'pricing_model':'PMP'," \
	"'type':'free_customer_service','category':'service'}"

static void
test_statuses(void)
{
	struct webhook_batch  b;
	struct webhook_event *e;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ENTRY(WABA,
	            CHANGE("messages",
	                MSGVAL(
	                    "'statuses':["
	                    "{'id':'wamid.OUT1','status':'sent','timestamp':'1750000001',"
	                    "'recipient_id':'16505551234'," PRICING "},"
	                    "{'id':'wamid.OUT1','status':'delivered','timestamp':'1750000002',"
	                    "'recipient_id':'16505551234'," PRICING "},"
	                    "{'id':'wamid.OUT1','status':'read','timestamp':'1750000003',"
	                    "'recipient_id':'16505551234'},"
	                    "{'id':'wamid.OUT2','status':'failed','timestamp':'1750000004',"
	                    "'recipient_id':'16505551234','errors':[{'code':131049,'title':"
	                    "'This message was not delivered to maintain healthy ecosystem "
	                    "engagement.','message':'This message was not delivered to "
	                    "maintain healthy ecosystem engagement.','error_data':{'details':"
	                    "'In order to maintain a healthy ecosystem engagement, the message "
	                    "failed to be delivered.'},'href':'/documentation/'}]},"
	                    "{'id':'wamid.OUT3','status':'played','timestamp':'1750000005'}"
	                    "]")))),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 5);
	CU_ASSERT_EQUAL(b.skipped, 0);
	e = &b.ev[0];
	CU_ASSERT_EQUAL(e->kind, WEBHOOK_STATUS);
	CU_ASSERT_STRING_EQUAL(e->id, "wamid.OUT1");
	CU_ASSERT_STRING_EQUAL(e->status, "sent");
	CU_ASSERT_STRING_EQUAL(e->from, "16505551234");
	CU_ASSERT_STRING_EQUAL(e->phone_number_id, PNID);
	CU_ASSERT_STRING_EQUAL(e->waba_id, WABA);
	CU_ASSERT_EQUAL(e->timestamp, 1750000001);
	CU_ASSERT_EQUAL(e->code, 0);
	CU_ASSERT_STRING_EQUAL(e->text, "");
	CU_ASSERT_STRING_EQUAL(b.ev[1].status, "delivered");
	CU_ASSERT_STRING_EQUAL(b.ev[2].status, "read");
	CU_ASSERT_EQUAL(b.ev[2].timestamp, 1750000003);
	e = &b.ev[3];
	CU_ASSERT_STRING_EQUAL(e->status, "failed");
	CU_ASSERT_STRING_EQUAL(e->id, "wamid.OUT2");
	CU_ASSERT_EQUAL(e->code, 131049);
	CU_ASSERT_STRING_EQUAL(e->text,
	    "This message was not delivered to "
	    "maintain healthy ecosystem engagement.");
	/* No recipient_id: kept, with from "". */
	CU_ASSERT_STRING_EQUAL(b.ev[4].status, "played");
	CU_ASSERT_STRING_EQUAL(b.ev[4].from, "");
	webhook_batch_free(&b);

	/* A failure with an odd error object is still a failure. */
	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ENTRY(WABA,
	            CHANGE("messages",
	                MSGVAL(
	                    "'statuses':["
	                    "{'id':'wamid.F1','status':'failed','errors':[{'title':'Only a "
	                    "title'}]},"
	                    "{'id':'wamid.F2','status':'failed','errors':'nope'},"
	                    "{'id':'wamid.F3','status':'sent','errors':[{'code':1}]}"
	                    "]")))),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 3);
	CU_ASSERT_EQUAL(b.ev[0].code, 0);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "Only a title");
	CU_ASSERT_STRING_EQUAL(b.ev[1].text, "");
	/* Codes and texts are for failures only. */
	CU_ASSERT_EQUAL(b.ev[2].code, 0);
	webhook_batch_free(&b);
}

static void
test_value_errors(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ENTRY(WABA,
	            CHANGE("messages",
	                MSGVAL(
	                    "'errors':[{'code':131000,'title':'Something went wrong',"
	                    "'message':'Something went wrong (message)','error_data':"
	                    "{'details':"
	                    "'Message failed to send due to an unknown error.'},'href':"
	                    "'https://developers.facebook.com/docs/whatsapp/cloud-api/support/"
	                    "error-codes/'},"
	                    "{'code':130429,'title':'Rate limit hit'},"
	                    "{'title':'no code'},"
	                    "{'code':'131000','title':'code as string'}]")))),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 2);
	CU_ASSERT_EQUAL(b.skipped, 2);
	CU_ASSERT_EQUAL(b.ev[0].kind, WEBHOOK_ERROR);
	CU_ASSERT_EQUAL(b.ev[0].code, 131000);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "Something went wrong (message)");
	CU_ASSERT_STRING_EQUAL(b.ev[0].id, "");
	CU_ASSERT_STRING_EQUAL(b.ev[0].phone_number_id, PNID);
	CU_ASSERT_EQUAL(b.ev[1].code, 130429);
	CU_ASSERT_STRING_EQUAL(b.ev[1].text, "Rate limit hit");
	webhook_batch_free(&b);
}

/* --- account_update ------------------------------------------------- */

/* As meta_sandbox.py sends it: entry.time, one change. */
#define ACCOUNT(entry_id, value) \
	"{'id':'" entry_id "','time':1750000100," \
	"'changes':[{'value':" value ",'field':'account_update'}]}"

static void
test_partner_events(void)
{
	struct webhook_batch  b;
	struct webhook_event *e;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ACCOUNT(PARTNER,
	            "{'event':'PARTNER_ADDED','waba_info':{'waba_id':"
	            "'" WABA
	            "','owner_business_id':'3000000000003'}}") "," ACCOUNT(PARTNER,
	            "{'event':'PARTNER_REMOVED','waba_info':"
	            "{'waba_id':'" WABA
	            "','owner_business_id':'3000000000003'}}") "," ACCOUNT(PARTNER,
	            "{'event':'PARTNER_APP_UNINSTALLED','waba_info':"
	            "{'waba_id':'" WABA "','owner_business_id':'3000000000003',"
	            "'partner_app_id':'4000000000004'}}")),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 3);
	e = &b.ev[0];
	CU_ASSERT_EQUAL(e->kind, WEBHOOK_ACCOUNT_UPDATE);
	CU_ASSERT_STRING_EQUAL(e->event, "PARTNER_ADDED");
	/* The WABA, not the partner business the entry arrived on. */
	CU_ASSERT_STRING_EQUAL(e->waba_id, WABA);
	CU_ASSERT_STRING_EQUAL(e->phone_number_id, "");
	CU_ASSERT_STRING_EQUAL(e->id, "");
	CU_ASSERT_STRING_EQUAL(e->text, "PARTNER_ADDED");
	CU_ASSERT_EQUAL(e->timestamp, 1750000100);
	CU_ASSERT_STRING_EQUAL(b.ev[1].event, "PARTNER_REMOVED");
	CU_ASSERT_STRING_EQUAL(b.ev[1].waba_id, WABA);
	CU_ASSERT_STRING_EQUAL(b.ev[1].text, "PARTNER_REMOVED");
	CU_ASSERT_STRING_EQUAL(b.ev[2].event, "PARTNER_APP_UNINSTALLED");
	CU_ASSERT_STRING_EQUAL(b.ev[2].waba_id, WABA);
	webhook_batch_free(&b);

	/* Without a usable waba_info we would act on the wrong account. */
	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ACCOUNT(PARTNER,
	            "{'event':'PARTNER_REMOVED'}") "," ACCOUNT(PARTNER,
	            "{'event':'PARTNER_REMOVED','waba_info':[]}") "," ACCOUNT(PARTNER,
	            "{'event':'PARTNER_REMOVED','waba_info':"
	            "{'waba_id':102290129340398}}") "," ACCOUNT(PARTNER,
	            "{'event':'PARTNER_REMOVED','waba_info':"
	            "{'waba_id':'act_1'}}") "," ACCOUNT(PARTNER,
	            "{'event':42}") "," ACCOUNT(PARTNER,
	            "{'event':''}") "," ACCOUNT(PARTNER,
	            "{'waba_info':{'waba_id':'" WABA "'}}")),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL(b.n, 0);
	CU_ASSERT_EQUAL(b.skipped, 7);
	webhook_batch_free(&b);
}

static void
test_account_events(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ACCOUNT(WABA,
	            "{'event':'ACCOUNT_RESTRICTION','restriction_info':"
	            "[{'restriction_type':'RESTRICTED_BIZ_INITIATED_MESSAGING',"
	            "'expiration':1750604900},{'restriction_type':"
	            "'RESTRICTED_ADD_PHONE_NUMBER_ACTION','expiration':"
	            "'2026-04-19T13:59:20+0000'}]}") "," ACCOUNT(WABA,
	            "{'event':'DISABLED_UPDATE','ban_info':"
	            "{'waba_ban_state':'DISABLE','waba_ban_date':'June 15, 2025'}}") "," ACCOUNT(WABA,
	            "{'event':'ACCOUNT_VIOLATION','violation_info':"
	            "{'violation_type':'ADULT'}}") "," ACCOUNT(WABA,
	            "{'event':'ACCOUNT_DELETED'}") ","
	                                           "{'id':'" WABA
	                                           "','changes':[{'value':{'event':'ACCOUNT_UPDATE'},"
	                                           "'field':'account_update'}]}"),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 5);
	CU_ASSERT_EQUAL(b.skipped, 0);
	CU_ASSERT_STRING_EQUAL(b.ev[0].event, "ACCOUNT_RESTRICTION");
	CU_ASSERT_STRING_EQUAL(b.ev[0].waba_id, WABA);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text,
	    "ACCOUNT_RESTRICTION: "
	    "RESTRICTED_BIZ_INITIATED_MESSAGING until 2025-06-22 15:08 UTC, "
	    "RESTRICTED_ADD_PHONE_NUMBER_ACTION until "
	    "2026-04-19T13:59:20+0000");
	CU_ASSERT_STRING_EQUAL(b.ev[1].text,
	    "DISABLED_UPDATE: ban state DISABLE (June 15, 2025)");
	CU_ASSERT_STRING_EQUAL(b.ev[2].text, "ACCOUNT_VIOLATION: ADULT");
	CU_ASSERT_STRING_EQUAL(b.ev[3].text, "ACCOUNT_DELETED");
	CU_ASSERT_STRING_EQUAL(b.ev[3].waba_id, WABA);
	CU_ASSERT_EQUAL(b.ev[3].timestamp, 1750000100);
	/* No entry.time: 0. */
	CU_ASSERT_EQUAL(b.ev[4].timestamp, 0);
	webhook_batch_free(&b);

	/* Details that are not tokens are not repeated into the summary. */
	CU_ASSERT_EQUAL_FATAL(
	    parse(DELIVERY(ACCOUNT(WABA,
	              "{'event':'DISABLED_UPDATE','ban_info':"
	              "{'waba_ban_state':'DISABLE now'}}") "," ACCOUNT(WABA,
	              "{'event':'DISABLED_UPDATE','ban_info':'DISABLE'}")),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 2);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text,
	    "DISABLED_UPDATE: ban state unknown");
	CU_ASSERT_STRING_EQUAL(b.ev[1].text, "DISABLED_UPDATE");
	webhook_batch_free(&b);
}

/* --- Several entries, redelivery ------------------------------------ */

static const char multi[] = DELIVERY(ENTRY(WABA,
    CHANGE("messages",
        MSGVAL(
            "'messages':[{'from':'16505551234','id':"
            "'wamid.A','timestamp':'1750000010','type':'text','text':{'body':"
            "'first'}},{'from':'16505551235','id':'wamid.B','timestamp':"
            "'1750000011','type':'text','text':{'body':'second'}}]")) "," CHANGE("message_template_status_update",
        "{'event':'APPROVED'}") "," CHANGE("messages",
        "{'messaging_product':'whatsapp','metadata':"
        "{'phone_number_id':'106540352242999'},'statuses':[{'id':"
        "'wamid.C','status':'delivered','timestamp':'1750000012',"
        "'recipient_id':'16505551234'}]}")) "," ACCOUNT(WABA,
    "{'event':'ACCOUNT_DELETED'}"));

static void
test_multi(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(parse(multi, &b), WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 4);
	/* A template change without its id: skipped, counted, not fatal. */
	CU_ASSERT_EQUAL(b.skipped, 1);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "first");
	CU_ASSERT_STRING_EQUAL(b.ev[1].text, "second");
	CU_ASSERT_STRING_EQUAL(b.ev[1].from, "16505551235");
	CU_ASSERT_EQUAL(b.ev[2].kind, WEBHOOK_STATUS);
	CU_ASSERT_STRING_EQUAL(b.ev[2].phone_number_id, "106540352242999");
	CU_ASSERT_EQUAL(b.ev[3].kind, WEBHOOK_ACCOUNT_UPDATE);
	CU_ASSERT_STRING_EQUAL(b.ev[3].event, "ACCOUNT_DELETED");
	webhook_batch_free(&b);
}

static int
same_event(const struct webhook_event *a, const struct webhook_event *b)
{
	return a->kind == b->kind && a->code == b->code &&
	    a->timestamp == b->timestamp &&
	    strcmp(a->waba_id, b->waba_id) == 0 &&
	    strcmp(a->phone_number_id, b->phone_number_id) == 0 &&
	    strcmp(a->id, b->id) == 0 && strcmp(a->status, b->status) == 0 &&
	    strcmp(a->from, b->from) == 0 && strcmp(a->type, b->type) == 0 &&
	    strcmp(a->text, b->text) == 0 && strcmp(a->event, b->event) == 0;
}

/* Meta redelivers byte for byte; the store dedups on what we produce. */
static void
test_redelivery(void)
{
	struct webhook_batch a, b;
	size_t               i;

	CU_ASSERT_EQUAL_FATAL(parse(multi, &a), WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(parse(multi, &b), WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(a.n, b.n);
	CU_ASSERT_EQUAL(a.skipped, b.skipped);
	for (i = 0; i < a.n; i++)
		CU_ASSERT(same_event(&a.ev[i], &b.ev[i]));
	webhook_batch_free(&a);
	webhook_batch_free(&b);
}

/* --- Malformed deliveries ------------------------------------------- */

static void
test_refused(void)
{
	struct webhook_batch b;
	struct buf           d = BUF_INIT;
	char                 deep[200];
	size_t               i;
	enum webhook_err     rc;

	refused_sq("not json");
	refused_sq("{'object':'whatsapp_business_account','entry':[");
	refused_sq("{'object':'whatsapp_business_account','entry':[]} x");
	refused_sq("{'object':'whatsapp_business_account','entry':[]}{}");
	refused_sq("{'object':'whatsapp_business_account','entry':[],}");
	refused_sq("[{'object':'whatsapp_business_account','entry':[]}]");
	refused_sq("'whatsapp_business_account'");
	refused_sq("{'object':'page','entry':[]}");
	refused_sq("{'object':'whatsapp_business_account_x','entry':[]}");
	refused_sq("{'object':['whatsapp_business_account'],'entry':[]}");
	refused_sq("{'entry':[]}");
	refused_sq("{'object':'whatsapp_business_account'}");
	refused_sq("{'object':'whatsapp_business_account','entry':{}}");
	refused_sq("{'object':'whatsapp_business_account','entry':null}");
	refused_sq("{'object':'whatsapp_business_account\\u0000','entry':[]}");
	refused("", 0);
	refused(NULL, 0);
	/* A NUL inside the body, even after a complete value. */
	refused("{\"object\":\"whatsapp_business_account\",\"entry\":[]}\0",
	    sizeof("{\"object\":\"whatsapp_business_account\",\"entry\":[]}"));
	refused("{\"object\":\"whatsapp_\0business_account\",\"entry\":[]}",
	    sizeof(
	        "{\"object\":\"whatsapp_\0business_account\",\"entry\":[]}") -
	        1);
	/* Invalid UTF-8 is not JSON (RFC 8259 §8.1). */
	refused_sq("{'object':'whatsapp_business_account','entry':[],"
	           "'x':'\xff'}");
	/* Depth 100. */
	for (i = 0; i < 100; i++)
		deep[i] = '[';
	for (i = 100; i < 200; i++)
		deep[i] = ']';
	refused(deep, 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "too deep"));
	/* Depth 100 inside a real delivery. */
	buf_puts(&d, "{\"object\":\"whatsapp_business_account\",\"entry\":");
	for (i = 0; i < 100; i++)
		buf_putc(&d, '[');
	for (i = 0; i < 100; i++)
		buf_putc(&d, ']');
	buf_putc(&d, '}');
	refused(d.data, d.len);
	buf_free(&d);
	/* Trailing whitespace is fine, and errors may be ignored. */
	rc = webhook_parse(SIGBODY "\r\n", strlen(SIGBODY) + 2, &b, NULL, 0);
	CU_ASSERT_EQUAL(rc, WEBHOOK_OK);
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL(webhook_parse("[]", 2, &b, NULL, 0), WEBHOOK_MALFORMED);
	webhook_batch_free(&b);
}

static void
test_empty(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL(parse("{'object':'whatsapp_business_account',"
	                      "'entry':[]}",
	                    &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL(b.n, 0);
	CU_ASSERT_EQUAL(b.skipped, 0);
	CU_ASSERT_PTR_NULL(b.ev);
	webhook_batch_free(&b);
	webhook_batch_free(&b);
	webhook_batch_free(NULL);
}

/* One good message plus the value's lists replaced by lists. */
static void
skips(const char *delivery, size_t want_n, size_t want_skipped)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(parse(delivery, &b), WEBHOOK_OK);
	CU_ASSERT_EQUAL(b.n, want_n);
	CU_ASSERT_EQUAL(b.skipped, want_skipped);
	if (b.n != want_n || b.skipped != want_skipped)
		fprintf(stderr, "\n  %s: n %zu skipped %zu\n", delivery, b.n,
		    b.skipped);
	webhook_batch_free(&b);
}

#define GOODMSG \
	"{'from':'16505551234','id':'wamid.OK','type':'text'," \
	"'text':{'body':'ok'}}"
#define MSGS(items) \
	DELIVERY( \
	    ENTRY(WABA, CHANGE("messages", MSGVAL("'messages':[" items "]"))))
#define STS(items) \
	DELIVERY( \
	    ENTRY(WABA, CHANGE("messages", MSGVAL("'statuses':[" items "]"))))
/* A 191-character id, the longest that fits. */
#define ID191 \
	"wamid.ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZAB" \
	"CDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ" \
	"KLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQR" \
	"STUVWXYZABC"

static void
test_skipped(void)
{
	/* Entries. */
	skips(DELIVERY("{'id':102290129340398,'changes':[" CHANGE("messages",
	          MSGVAL("'messages':[" GOODMSG "]")) "]}"),
	    0, 1);
	skips(DELIVERY("{'id':'waba-1','changes':[]}"), 0, 1);
	skips(DELIVERY("{'id':'','changes':[]}"), 0, 1);
	skips(DELIVERY("{'id':'1234567890123456789012345678901234','changes'"
	               ":[]}"),
	    0, 1);
	skips(DELIVERY("{'id':'" WABA "'}"), 0, 1);
	skips(DELIVERY("{'id':'" WABA "','changes':{}}"), 0, 1);
	skips(DELIVERY("42,null,'x',[]," ENTRY(WABA,
	          CHANGE("messages", MSGVAL("'messages':[" GOODMSG "]")))),
	    1, 4);
	/* Changes. */
	skips(DELIVERY(ENTRY(WABA,
	          "42,{'field':'messages'},{'value':{}},"
	          "{'field':7,'value':{}},{'field':'messages','value':[]}")),
	    0, 5);
	/* metadata missing, phone_number_id of the wrong type or shape. */
	skips(DELIVERY(ENTRY(WABA,
	          CHANGE("messages", "{'messages':[" GOODMSG "]}"))),
	    0, 1);
	skips(DELIVERY(ENTRY(WABA,
	          CHANGE("messages",
	              "{'metadata':"
	              "{'phone_number_id':106540352242922},'messages':[" GOODMSG
	              "]}"))),
	    0, 1);
	skips(
	    DELIVERY(ENTRY(WABA,
	        CHANGE("messages",
	            "{'metadata':"
	            "{'phone_number_id':'+106540352242922'},'messages':[" GOODMSG
	            "]}"))),
	    0, 1);
	skips(DELIVERY(ENTRY(WABA,
	          CHANGE("messages",
	              "{'metadata':'x',"
	              "'messages':[" GOODMSG "]}"))),
	    0, 1);
	/* messages not an array: the statuses next to it still count. */
	skips(DELIVERY(ENTRY(WABA,
	          CHANGE("messages",
	              MSGVAL(
	                  "'messages':" GOODMSG
	                  ",'statuses':[{'id':'wamid.S','status':'read'}]")))),
	    1, 1);
	skips(DELIVERY(ENTRY(WABA,
	          CHANGE("messages",
	              MSGVAL("'messages':"
	                     "null")))),
	    0, 0);
	/* Messages: id missing, empty, too long, of the wrong type. */
	skips(MSGS("{'from':'16505551234','type':'text'}," GOODMSG), 1, 1);
	skips(MSGS("{'id':'','from':'16505551234'}"), 0, 1);
	skips(MSGS("{'id':'" ID191 "','from':'16505551234'}"), 1, 0);
	skips(MSGS("{'id':'" ID191 "4','from':'16505551234'}"), 0, 1);
	skips(MSGS("{'id':42,'from':'16505551234'}"), 0, 1);
	skips(MSGS("{'id':'wamid X','from':'16505551234'}"), 0, 1);
	skips(MSGS("{'id':'wamid.\\u0000X','from':'16505551234'}"), 0, 1);
	/* from missing, not digits, too long; type wrong. */
	skips(MSGS("{'id':'wamid.1'}"), 0, 1);
	skips(MSGS("{'id':'wamid.1','from':'+16505551234'}"), 0, 1);
	skips(MSGS("{'id':'wamid.1','from':16505551234}"), 0, 1);
	skips(MSGS("{'id':'wamid.1','from':"
	           "'123456789012345678901234567890123'}"),
	    0, 1);
	skips(MSGS("{'id':'wamid.1','from':'1','type':['text']}"), 0, 1);
	skips(MSGS("1,'x',null,[]," GOODMSG), 1, 4);
	/* A text that is not an object or has no body is just "". */
	skips(
	    MSGS("{'id':'wamid.1','from':'1','type':'text','text':'hi'},"
	         "{'id':'wamid.2','from':'1','type':'text','text':{'body':5}}"),
	    2, 0);
	/* Statuses: status as a number, missing, bad recipient. */
	skips(STS("{'id':'wamid.S','status':3,'recipient_id':'1'}"), 0, 1);
	skips(STS("{'id':'wamid.S','recipient_id':'1'}"), 0, 1);
	skips(STS("{'status':'read','recipient_id':'1'}"), 0, 1);
	skips(STS("{'id':'wamid.S','status':'read','recipient_id':1}"), 0, 1);
	skips(STS("{'id':'wamid.S','status':'read','recipient_id':'x1'}"), 0,
	    1);
	skips(STS("{'id':'wamid.S','status':'a_status_name_of_32_characters__'"
	          ",'recipient_id':'1'}"),
	    0, 1);
	skips(STS("{'id':'wamid.S','status':'read','recipient_id':null}"), 1,
	    0);
	/* Timestamps that are not decimal are 0, not a reason to drop. */
	{
		struct webhook_batch b;

		CU_ASSERT_EQUAL_FATAL(
		    parse(
		        STS("{'id':'wamid.S','status':"
		            "'read','timestamp':'12x'},{'id':'wamid.T','status':"
		            "'read','timestamp':-5},{'id':'wamid.U','status':'read',"
		            "'timestamp':1750000000},{'id':'wamid.V','status':'read',"
		            "'timestamp':'99999999999999999999'}"),
		        &b),
		    WEBHOOK_OK);
		CU_ASSERT_EQUAL_FATAL(b.n, 4);
		CU_ASSERT_EQUAL(b.ev[0].timestamp, 0);
		CU_ASSERT_EQUAL(b.ev[1].timestamp, 0);
		CU_ASSERT_EQUAL(b.ev[2].timestamp, 1750000000);
		CU_ASSERT_EQUAL(b.ev[3].timestamp, 0);
		webhook_batch_free(&b);
	}
}

/*
 * Coexistence (numbers also on the WhatsApp Business app): the three
 * fields as Meta's reference shows them and the sandbox sends them.
 */
static void
test_echoes(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ENTRY(WABA,
	            CHANGE("smb_message_echoes",
	                MSGVAL(
	                    "'message_echoes':[{'from':"
	                    "'15550783881','to':'16505551234','id':'wamid.ECHO1','timestamp':"
	                    "'1739321024','type':'text','text':{'body':'See you at 5'}},"
	                    "{'from':'15550783881','to_user_id':'US.13491208655302741918',"
	                    "'id':'wamid.ECHO2','type':'image','image':{'id':'1'}}]")))),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 2);
	CU_ASSERT_EQUAL(b.skipped, 0);
	CU_ASSERT_EQUAL(b.ev[0].kind, WEBHOOK_ECHO);
	CU_ASSERT_STRING_EQUAL(b.ev[0].waba_id, WABA);
	CU_ASSERT_STRING_EQUAL(b.ev[0].phone_number_id, PNID);
	CU_ASSERT_STRING_EQUAL(b.ev[0].id, "wamid.ECHO1");
	CU_ASSERT_STRING_EQUAL(b.ev[0].from, "15550783881");
	CU_ASSERT_STRING_EQUAL(b.ev[0].to, "16505551234");
	CU_ASSERT_STRING_EQUAL(b.ev[0].type, "text");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "to 16505551234: See you at 5");
	CU_ASSERT_EQUAL(b.ev[0].timestamp, 1739321024);
	CU_ASSERT_STRING_EQUAL(b.ev[1].to, "US.13491208655302741918");
	CU_ASSERT_STRING_EQUAL(b.ev[1].text,
	    "to US.13491208655302741918: (image)");
	webhook_batch_free(&b);
}

static void
test_state_sync(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        DELIVERY(ENTRY(WABA,
	            CHANGE("smb_app_state_sync",
	                MSGVAL(
	                    "'state_sync':[{'type':"
	                    "'contact','contact':{'full_name':'Pablo Morales','first_name':"
	                    "'Pablo','phone_number':'16505551234'},'action':'add','metadata':"
	                    "{'timestamp':'1739321024'}},{'type':'contact','contact':"
	                    "{'phone_number':'447700900123'},'action':'remove','metadata':"
	                    "{'timestamp':1739321025}}]")))),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 2);
	CU_ASSERT_EQUAL(b.ev[0].kind, WEBHOOK_STATE_SYNC);
	CU_ASSERT_STRING_EQUAL(b.ev[0].phone_number_id, PNID);
	CU_ASSERT_STRING_EQUAL(b.ev[0].from, "16505551234");
	CU_ASSERT_STRING_EQUAL(b.ev[0].status, "add");
	CU_ASSERT_STRING_EQUAL(b.ev[0].type, "contact");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "add contact: Pablo Morales");
	CU_ASSERT_EQUAL(b.ev[0].timestamp, 1739321024);
	CU_ASSERT_STRING_EQUAL(b.ev[1].status, "remove");
	CU_ASSERT_STRING_EQUAL(b.ev[1].text, "remove contact");
	CU_ASSERT_EQUAL(b.ev[1].timestamp, 1739321025);
	webhook_batch_free(&b);
}

#define HISTVAL(chunks) \
	DELIVERY( \
	    ENTRY(WABA, CHANGE("history", MSGVAL("'history':[" chunks "]"))))

static void
test_history(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        HISTVAL(
	            "{'metadata':{'phase':0,"
	            "'chunk_order':1,'progress':100},'threads':[{'id':'16505551234',"
	            "'messages':[{'from':'16505551234','id':'wamid.H1','timestamp':"
	            "'1739230000','type':'text','text':{'body':'Hi'},"
	            "'history_context':{'status':'read'}},{'from':'15550783881','to':"
	            "'16505551234','id':'wamid.H2','type':'text','text':{'body':'Hello'"
	            "}}]},{'id':'447700900123','messages':[]}]},"
	            "{'metadata':{'phase':'2','chunk_order':'3','progress':'67'}}"),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 2);
	CU_ASSERT_EQUAL(b.ev[0].kind, WEBHOOK_HISTORY);
	CU_ASSERT_STRING_EQUAL(b.ev[0].phone_number_id, PNID);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text,
	    "phase 0, chunk 1, progress "
	    "100%: 2 threads, 2 messages");
	CU_ASSERT_EQUAL(b.ev[0].timestamp, 0);
	CU_ASSERT_STRING_EQUAL(b.ev[1].text,
	    "phase 2, chunk 3, progress "
	    "67%: 0 threads, 0 messages");
	webhook_batch_free(&b);
	/* The business declined to share its chats. */
	CU_ASSERT_EQUAL_FATAL(
	    parse(
	        HISTVAL(
	            "{'errors':[{'code':2593109,"
	            "'title':'History sync is turned off by the business from the "
	            "WhatsApp Business App','message':'History sync is turned off by "
	            "the business from the WhatsApp Business App','error_data':"
	            "{'details':'x'}}]}"),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT_EQUAL(b.ev[0].kind, WEBHOOK_HISTORY);
	CU_ASSERT_EQUAL(b.ev[0].code, 2593109);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text,
	    "error 2593109: History sync is "
	    "turned off by the business from the WhatsApp Business App");
	webhook_batch_free(&b);
}

#define ECHOES(items) \
	DELIVERY(ENTRY(WABA, \
	    CHANGE("smb_message_echoes", \
	        MSGVAL("'message_echoes':[" items "]"))))
#define STATES(items) \
	DELIVERY(ENTRY(WABA, \
	    CHANGE("smb_app_state_sync", MSGVAL("'state_sync':[" items "]"))))
#define GOODECHO "{'from':'1','to':'2','id':'wamid.E'}"
#define GOODSTATE \
	"{'type':'contact','action':'add','contact':" \
	"{'phone_number':'1'}}"

/* Each required field of the coexistence items, missing or odd. */
static void
test_coexistence_skipped(void)
{
	skips(ECHOES(GOODECHO), 1, 0);
	skips(ECHOES("{'to':'2','id':'wamid.E'}"), 0, 1);
	skips(ECHOES("{'from':'+1','to':'2','id':'wamid.E'}"), 0, 1);
	skips(ECHOES("{'from':'1','id':'wamid.E'}"), 0, 1);
	skips(ECHOES("{'from':'1','to':'x2','id':'wamid.E'}"), 0, 1);
	skips(ECHOES("{'from':'1','to_user_id':'not a user','id':'wamid.E'}"),
	    0, 1);
	skips(ECHOES("{'from':'1','to':'2'}"), 0, 1);
	skips(ECHOES("{'from':'1','to':'2','id':'wamid E'}"), 0, 1);
	skips(ECHOES("{'from':'1','to':'2','id':'wamid.E','type':7}"), 0, 1);
	skips(ECHOES("7,null,[]," GOODECHO), 1, 3);
	/* The number is what routes it: without metadata it is skipped. */
	skips(DELIVERY(ENTRY(WABA,
	          CHANGE("smb_message_echoes",
	              "{'message_echoes':[" GOODECHO "]}"))),
	    0, 1);
	skips(DELIVERY(ENTRY(WABA,
	          CHANGE("smb_message_echoes",
	              MSGVAL("'message_echoes':" GOODECHO)))),
	    0, 1);
	skips(STATES(GOODSTATE), 1, 0);
	skips(STATES("{'action':'add','contact':{'phone_number':'1'}}"), 0, 1);
	skips(STATES("{'type':'contact','contact':{'phone_number':'1'}}"), 0,
	    1);
	skips(STATES("{'type':'contact','action':'add'}"), 0, 1);
	skips(STATES("{'type':'contact','action':'add','contact':"
	             "{'full_name':'A'}}"),
	    0, 1);
	skips(STATES("{'type':'contact','action':'add','contact':"
	             "{'phone_number':'+1'}}"),
	    0, 1);
	skips(STATES("{'type':'contact','action':'a b','contact':"
	             "{'phone_number':'1'}}"),
	    0, 1);
	skips(HISTVAL("{'metadata':{'phase':0}}"), 1, 0);
	skips(HISTVAL("{'metadata':{'phase':-1}}"), 0, 1);
	skips(HISTVAL("{'metadata':{'phase':'x'}}"), 0, 1);
	skips(HISTVAL("{'metadata':{}}"), 0, 1);
	skips(HISTVAL("{'threads':[]}"), 0, 1);
	skips(HISTVAL("{'errors':[{'title':'no code'}]}"), 0, 1);
	skips(HISTVAL("{'errors':['x']}"), 0, 1);
	/* An empty errors list says nothing: the metadata decides. */
	skips(HISTVAL("{'errors':[],'metadata':{'phase':1}}"), 1, 0);
}

#define TROUBLE(field, value) DELIVERY(ENTRY(WABA, CHANGE(field, value)))

/* The one event of a trouble field's delivery into ev; its kind. */
static int
trouble1(const char *delivery, struct webhook_batch *b)
{
	if (parse(delivery, b) != WEBHOOK_OK || b->n != 1)
		return -1;
	return (int)b->ev[0].kind;
}

static void
test_trouble_fields(void)
{
	struct webhook_batch  b;
	struct webhook_event *e;

	/* Meta's message_template_status_update: the id is a number. */
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("message_template_status_update",
	                 "{'event':'REJECTED','message_template_id':"
	                 "1234567890123456,'message_template_name':'promo',"
	                 "'message_template_language':'en_US','reason':"
	                 "'INVALID_FORMAT','message_template_category':"
	                 "'MARKETING'}"),
	        &b),
	    WEBHOOK_TEMPLATE);
	e = &b.ev[0];
	CU_ASSERT_STRING_EQUAL(e->id, "1234567890123456");
	CU_ASSERT_STRING_EQUAL(e->event, "message_template_status_update");
	CU_ASSERT_STRING_EQUAL(e->status, "REJECTED");
	CU_ASSERT_STRING_EQUAL(e->name, "promo");
	CU_ASSERT_STRING_EQUAL(e->type, "en_US");
	CU_ASSERT_STRING_EQUAL(e->category, "MARKETING");
	CU_ASSERT_STRING_EQUAL(e->text, "INVALID_FORMAT");
	CU_ASSERT_STRING_EQUAL(e->waba_id, WABA);
	CU_ASSERT_PTR_NOT_NULL(e->object);
	CU_ASSERT_STRING_EQUAL(e->metadata,
	    "{\"field\":\"message_template_status_update\"}");
	webhook_batch_free(&b);
	/* A pause: reason NONE, Meta's words in other_info. */
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("message_template_status_update",
	                 "{'event':'PAUSED','message_template_id':'77',"
	                 "'reason':'NONE','other_info':{'title':'FIRST_PAUSE',"
	                 "'description':'Paused for low quality.'}}"),
	        &b),
	    WEBHOOK_TEMPLATE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "Paused for low quality.");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(
	        TROUBLE("message_template_quality_update",
	            "{'previous_quality_score':'GREEN','new_quality_score':"
	            "'RED','message_template_id':77}"),
	        &b),
	    WEBHOOK_TEMPLATE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].status, "RED");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "quality GREEN -> RED");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("template_category_update",
	                 "{'message_template_id':77,'previous_category':"
	                 "'UTILITY','new_category':'MARKETING'}"),
	        &b),
	    WEBHOOK_TEMPLATE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].category, "MARKETING");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "category UTILITY -> MARKETING");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("template_category_update",
	                 "{'message_template_id':77,'correct_category':"
	                 "'MARKETING','new_category':'UTILITY',"
	                 "'category_update_timestamp':1750000000}"),
	        &b),
	    WEBHOOK_TEMPLATE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text,
	    "category UTILITY to become MARKETING");
	webhook_batch_free(&b);
	/* The number by its display_phone_number's digits. */
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("phone_number_quality_update",
	                 "{'display_phone_number':'+1 555-078-3881','event':"
	                 "'DOWNGRADE','old_limit':'TIER_10K','current_limit':"
	                 "'TIER_1K'}"),
	        &b),
	    WEBHOOK_PHONE_QUALITY);
	CU_ASSERT_STRING_EQUAL(b.ev[0].from, "15550783881");
	CU_ASSERT_STRING_EQUAL(b.ev[0].status, "DOWNGRADE");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text,
	    "DOWNGRADE: limit TIER_10K -> TIER_1K");
	CU_ASSERT_STRING_EQUAL(b.ev[0].phone_number_id, "");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("phone_number_quality_update",
	                 "{'display_phone_number':'15550783881','event':"
	                 "'FLAGGED','max_daily_conversations_per_business':"
	                 "2000}"),
	        &b),
	    WEBHOOK_PHONE_QUALITY);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "FLAGGED: limit - -> 2000");
	webhook_batch_free(&b);
	/* The notices: the field is their type. */
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("phone_number_name_update",
	                 "{'display_phone_number':'15550783881','decision':"
	                 "'REJECTED','requested_verified_name':'Acme!!',"
	                 "'rejection_reason':'NAME_FORMAT_UNACCEPTABLE'}"),
	        &b),
	    WEBHOOK_NOTICE);
	e = &b.ev[0];
	CU_ASSERT_STRING_EQUAL(e->type, "phone_number_name_update");
	CU_ASSERT_STRING_EQUAL(e->status, "REJECTED");
	CU_ASSERT_STRING_EQUAL(e->name, "Acme!!");
	CU_ASSERT_STRING_EQUAL(e->text, "NAME_FORMAT_UNACCEPTABLE");
	CU_ASSERT_PTR_NULL(e->metadata);
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(
	        TROUBLE("account_alerts",
	            "{'entity_type':'PHONE_NUMBER','entity_id':'15550783881',"
	            "'alert_info':{'alert_severity':'CRITICAL',"
	            "'alert_status':'ACTIVE','alert_type':"
	            "'OBA_REJECTED','alert_description':'Denied.'}}"),
	        &b),
	    WEBHOOK_NOTICE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].event, "OBA_REJECTED");
	CU_ASSERT_STRING_EQUAL(b.ev[0].status, "ACTIVE");
	CU_ASSERT_STRING_EQUAL(b.ev[0].from, "15550783881");
	CU_ASSERT_STRING_EQUAL(b.ev[0].text, "CRITICAL: Denied.");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(trouble1(TROUBLE("account_review_update",
	                                   "{'decision':'DEFERRED'}"),
	                          &b),
	    WEBHOOK_NOTICE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].status, "DEFERRED");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("business_capability_update",
	                 "{'max_daily_conversations_per_business':-1,"
	                 "'max_phone_numbers_per_business':2}"),
	        &b),
	    WEBHOOK_NOTICE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].text,
	    "max_daily_conversations_per_business -1, "
	    "max_phone_numbers_per_business 2");
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(
	    trouble1(TROUBLE("security",
	                 "{'display_phone_number':'15550783881','event':"
	                 "'PIN_CHANGED','requester':'2222'}"),
	        &b),
	    WEBHOOK_NOTICE);
	CU_ASSERT_STRING_EQUAL(b.ev[0].type, "security");
	CU_ASSERT_STRING_EQUAL(b.ev[0].status, "PIN_CHANGED");
	webhook_batch_free(&b);
	/* Required members missing or malformed: skipped, counted. */
	skips(TROUBLE("message_template_status_update",
	          "{'event':'APPROVED','message_template_id':'x1'}"),
	    0, 1);
	skips(TROUBLE("message_template_quality_update",
	          "{'message_template_id':1}"),
	    0, 1);
	skips(TROUBLE("phone_number_quality_update",
	          "{'display_phone_number':'call me','event':'FLAGGED'}"),
	    0, 1);
	skips(TROUBLE("security", "{'event':'PIN_CHANGED'}"), 0, 1);
	skips(TROUBLE("account_alerts", "{'alert_info':{'alert_type':'X'}}"), 0,
	    1);
	skips(TROUBLE("account_review_update", "{'decision':'a b'}"), 0, 1);
	skips(TROUBLE("some_future_field", "{}"), 0, 1);
}

/* Offboarded is a hold that only ACCOUNT_RECONNECTED lifts. */
static void
test_offboarded_standing(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(
	    parse(DELIVERY(ACCOUNT(WABA,
	              "{'event':'ACCOUNT_OFFBOARDED'}") "," ACCOUNT(WABA,
	              "{'event':'ACCOUNT_RECONNECTED'}")),
	        &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 2);
	CU_ASSERT_EQUAL(webhook_event_standing(&b.ev[0]), WEBHOOK_RESTRICTED);
	CU_ASSERT_EQUAL(webhook_event_standing(&b.ev[1]), WEBHOOK_LIFTED);
	CU_ASSERT_EQUAL(webhook_event_is_loss(&b.ev[0], NULL, 0), 1);
	CU_ASSERT_EQUAL(webhook_event_is_loss(&b.ev[1], NULL, 0), 0);
	webhook_batch_free(&b);
}

/* A delivery with n read statuses. */
static void
statuses(struct buf *b, size_t n)
{
	size_t i;

	buf_reset(b);
	buf_puts(b,
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
	    "\"id\":\"" WABA "\",\"changes\":[{\"field\":\"messages\","
	    "\"value\":"
	    "{\"metadata\":{\"phone_number_id\":\"" PNID "\"},\"statuses\":[");
	for (i = 0; i < n; i++)
		buf_printf(b,
		    "%s{\"id\":\"wamid.%zu\",\"status\":\"read\","
		    "\"timestamp\":\"1750000000\",\"recipient_id\":"
		    "\"16505551234\"}",
		    i ? "," : "", i);
	buf_puts(b, "]}}]}]}");
}

static void
test_limits(void)
{
	struct buf           body = BUF_INIT;
	struct webhook_batch b;
	clock_t              t0;

	statuses(&body, WEBHOOK_MAX_EVENTS);
	CU_ASSERT_EQUAL(webhook_parse(body.data, body.len, &b, errbuf,
	                    sizeof(errbuf)),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL(b.n, WEBHOOK_MAX_EVENTS);
	CU_ASSERT_STRING_EQUAL(b.ev[WEBHOOK_MAX_EVENTS - 1].id, "wamid.999");
	webhook_batch_free(&b);

	statuses(&body, WEBHOOK_MAX_EVENTS + 1);
	refused(body.data, body.len);
	CU_ASSERT_PTR_NOT_NULL(strstr(errbuf, "more than"));

	statuses(&body, 20000);
	t0 = clock();
	refused(body.data, body.len);
	/* Generous: valgrind is slow, but this must not be quadratic. */
	CU_ASSERT((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
	buf_free(&body);
}

/* 400 three-byte characters: 1200 bytes into a 1024-byte field. */
static void
test_long_text(void)
{
	struct buf           body = BUF_INIT;
	struct webhook_batch b;
	size_t               i;

	buf_puts(&body,
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
	    "\"id\":\"" WABA "\",\"changes\":[{\"field\":\"messages\","
	    "\"value\":"
	    "{\"metadata\":{\"phone_number_id\":\"" PNID "\"},\"messages\":[{"
	    "\"id\":\"wamid.L\",\"from\":\"1\",\"type\":\"text\",\"text\":{"
	    "\"body\":\"");
	for (i = 0; i < 400; i++)
		buf_puts(&body, "\xe2\x82\xac"); /* U+20AC EURO SIGN */
	buf_puts(&body, "\"}}]}}]}]}");
	CU_ASSERT_EQUAL_FATAL(webhook_parse(body.data, body.len, &b, errbuf,
	                          sizeof(errbuf)),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	/* 341 whole characters; the 342nd would need bytes 1023..1025. */
	CU_ASSERT_EQUAL(strlen(b.ev[0].text), 1023);
	CU_ASSERT_EQUAL(memcmp(b.ev[0].text + 1020, "\xe2\x82\xac", 3), 0);
	webhook_batch_free(&b);
	buf_free(&body);
}

/* --- Loss ----------------------------------------------------------- */

/* The one event of a one-change account_update delivery, in *ev: 0 or -1. */
static int
account_event(const char *value, struct webhook_event *ev)
{
	struct webhook_batch b;
	char                 d[1024];
	int                  rc = -1;

	snprintf(d, sizeof(d), DELIVERY(ACCOUNT(WABA, "%s")), value);
	if (parse(d, &b) == WEBHOOK_OK && b.n == 1) {
		*ev = b.ev[0];
		rc = 0;
	}
	webhook_batch_free(&b);
	return rc;
}

static int
loss(const char *value, char *reason, size_t reasonlen)
{
	struct webhook_event ev;

	if (account_event(value, &ev) == -1)
		return -1;
	return webhook_event_is_loss(&ev, reason, reasonlen);
}

#define WI "'waba_info':{'waba_id':'" WABA "','owner_business_id':'3'}"

static void
test_loss(void)
{
	struct webhook_event ev;
	char                 r[256];

	CU_ASSERT_EQUAL(loss("{'event':'PARTNER_REMOVED'," WI "}", r,
	                    sizeof(r)),
	    1);
	CU_ASSERT_STRING_EQUAL(r,
	    "the business removed this app from its "
	    "WhatsApp account");
	CU_ASSERT_EQUAL(loss("{'event':'PARTNER_APP_UNINSTALLED'," WI "}", r,
	                    sizeof(r)),
	    1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "permissions"));
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_DELETED'}", r, sizeof(r)), 1);
	CU_ASSERT_STRING_EQUAL(r, "the WhatsApp Business Account was deleted");
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_OFFBOARDED'}", r, sizeof(r)),
	    1);
	CU_ASSERT_EQUAL(
	    loss(
	        "{'event':'DISABLED_UPDATE','ban_info':"
	        "{'waba_ban_state':'DISABLE','waba_ban_date':'June 15, 2025'}}",
	        r, sizeof(r)),
	    1);
	CU_ASSERT_STRING_EQUAL(r,
	    "Meta disabled the WhatsApp Business "
	    "Account (June 15, 2025)");
	CU_ASSERT_EQUAL(loss("{'event':'DISABLED_UPDATE','ban_info':"
	                     "{'waba_ban_state':'DISABLE'}}",
	                    r, sizeof(r)),
	    1);
	CU_ASSERT_STRING_EQUAL(r,
	    "Meta disabled the WhatsApp Business "
	    "Account");
	CU_ASSERT_EQUAL(
	    loss("{'event':'ACCOUNT_RESTRICTION','restriction_info'"
	         ":[{'restriction_type':'RESTRICTED_BIZ_INITIATED_MESSAGING',"
	         "'expiration':1750604900}]}",
	        r, sizeof(r)),
	    1);
	CU_ASSERT_STRING_EQUAL(r,
	    "Meta restricted the WhatsApp Business "
	    "Account: RESTRICTED_BIZ_INITIATED_MESSAGING until 2025-06-22 "
	    "15:08 UTC");
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_RESTRICTION'}", r, sizeof(r)),
	    1);
	CU_ASSERT_STRING_EQUAL(r,
	    "Meta restricted the WhatsApp Business "
	    "Account");
	/* Truncated reasons, and no room for one at all. */
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_DELETED'}", r, 8), 1);
	CU_ASSERT_STRING_EQUAL(r, "the Wha");
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_DELETED'}", NULL, 0), 1);

	/* Not losses: a scheduled or lifted ban, warnings, additions. */
	strcpy(r, "stale");
	CU_ASSERT_EQUAL(loss("{'event':'DISABLED_UPDATE','ban_info':"
	                     "{'waba_ban_state':'SCHEDULE_FOR_DISABLE'}}",
	                    r, sizeof(r)),
	    0);
	CU_ASSERT_STRING_EQUAL(r, "");
	CU_ASSERT_EQUAL(loss("{'event':'DISABLED_UPDATE','ban_info':"
	                     "{'waba_ban_state':'REINSTATE'}}",
	                    r, sizeof(r)),
	    0);
	CU_ASSERT_EQUAL(loss("{'event':'DISABLED_UPDATE','ban_info':"
	                     "{'waba_ban_state':'DISABLED_SOMEHOW'}}",
	                    r, sizeof(r)),
	    0);
	CU_ASSERT_EQUAL(loss("{'event':'DISABLED_UPDATE'}", r, sizeof(r)), 0);
	CU_ASSERT_EQUAL(loss("{'event':'PARTNER_ADDED'," WI "}", r, sizeof(r)),
	    0);
	CU_ASSERT_EQUAL(loss("{'event':'PARTNER_APP_INSTALLED'," WI "}", r,
	                    sizeof(r)),
	    0);
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_VIOLATION','violation_info':"
	                     "{'violation_type':'SCAM'}}",
	                    r, sizeof(r)),
	    0);
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_RECONNECTED'}", r, sizeof(r)),
	    0);
	CU_ASSERT_EQUAL(loss("{'event':'MM_LITE_TERMS_SIGNED'}", r, sizeof(r)),
	    0);

	/* Other kinds never are, whatever their fields say. */
	memset(&ev, 0, sizeof(ev));
	strcpy(ev.event, "PARTNER_REMOVED");
	strcpy(r, "stale");
	ev.kind = WEBHOOK_MESSAGE;
	CU_ASSERT_EQUAL(webhook_event_is_loss(&ev, r, sizeof(r)), 0);
	CU_ASSERT_STRING_EQUAL(r, "");
	ev.kind = WEBHOOK_STATUS;
	CU_ASSERT_EQUAL(webhook_event_is_loss(&ev, r, sizeof(r)), 0);
	ev.kind = WEBHOOK_ERROR;
	CU_ASSERT_EQUAL(webhook_event_is_loss(&ev, r, sizeof(r)), 0);
	ev.kind = WEBHOOK_ACCOUNT_UPDATE;
	CU_ASSERT_EQUAL(webhook_event_is_loss(&ev, r, sizeof(r)), 1);
	/* A hand-made event whose text is not a summary of ours. */
	memset(&ev, 'x', sizeof(ev));
	ev.kind = WEBHOOK_ACCOUNT_UPDATE;
	strcpy(ev.event, "ACCOUNT_RESTRICTION");
	strcpy(ev.text, "");
	CU_ASSERT_EQUAL(webhook_event_is_loss(&ev, r, sizeof(r)), 1);
	CU_ASSERT_STRING_EQUAL(r,
	    "Meta restricted the WhatsApp Business "
	    "Account");
	CU_ASSERT_EQUAL(webhook_event_is_loss(NULL, r, sizeof(r)), 0);
}

/* The first event's standing and restriction end, or -9 when unparsed. */
static int
standing(const char *value, int64_t *until)
{
	struct webhook_event ev;

	if (account_event(value, &ev) == -1)
		return -9;
	if (until != NULL)
		*until = ev.until;
	return webhook_event_standing(&ev);
}

static void
test_standing(void)
{
	struct webhook_event ev;
	int64_t              until;
	char                 r[256];

	/* Restricted or banned: a new token changes nothing about it. */
	CU_ASSERT_EQUAL(
	    standing(
	        "{'event':'ACCOUNT_RESTRICTION',"
	        "'restriction_info':[{'restriction_type':'RESTRICTED_ADD_PHONE_"
	        "NUMBER_ACTION','expiration':1750604900},{'restriction_type':"
	        "'RESTRICTED_BIZ_INITIATED_MESSAGING','expiration':1750000000}]}",
	        &until),
	    1);
	CU_ASSERT_EQUAL(until, 1750604900); /* the later of the two */
	/* One end unknown (a date string, or none): nobody knows the end. */
	CU_ASSERT_EQUAL(
	    standing("{'event':'ACCOUNT_RESTRICTION',"
	             "'restriction_info':[{'restriction_type':'A','expiration':"
	             "1750604900},{'restriction_type':'B','expiration':"
	             "'2022-12-12T07:09:27.000Z'}]}",
	        &until),
	    1);
	CU_ASSERT_EQUAL(until, 0);
	CU_ASSERT_EQUAL(
	    standing("{'event':'ACCOUNT_RESTRICTION',"
	             "'restriction_info':[{'restriction_type':'A'}]}",
	        &until),
	    1);
	CU_ASSERT_EQUAL(until, 0);
	CU_ASSERT_EQUAL(standing("{'event':'ACCOUNT_RESTRICTION'}", &until), 1);
	CU_ASSERT_EQUAL(until, 0);
	CU_ASSERT_EQUAL(
	    standing(
	        "{'event':'DISABLED_UPDATE','ban_info':"
	        "{'waba_ban_state':'DISABLE','waba_ban_date':'June 15, 2025'}}",
	        NULL),
	    1);
	/* A list we cannot read is not an empty one. */
	CU_ASSERT_EQUAL(standing("{'event':'ACCOUNT_RESTRICTION',"
	                         "'restriction_info':['x', 3]}",
	                    &until),
	    1);
	CU_ASSERT_EQUAL(until, 0);
	/* Meta lists no restriction left: lifted, and no loss. */
	CU_ASSERT_EQUAL(standing("{'event':'ACCOUNT_RESTRICTION',"
	                         "'restriction_info':[]}",
	                    NULL),
	    WEBHOOK_LIFTED);
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_RESTRICTION',"
	                     "'restriction_info':[]}",
	                    r, sizeof(r)),
	    0);
	CU_ASSERT_EQUAL(loss("{'event':'ACCOUNT_RESTRICTION',"
	                     "'restriction_info':['x']}",
	                    r, sizeof(r)),
	    1);
	/* Lifted: REINSTATE; neither: scheduled, unknown, access events. */
	CU_ASSERT_EQUAL(standing("{'event':'DISABLED_UPDATE','ban_info':"
	                         "{'waba_ban_state':'REINSTATE'}}",
	                    NULL),
	    WEBHOOK_LIFTED);
	CU_ASSERT_EQUAL(standing("{'event':'DISABLED_UPDATE','ban_info':"
	                         "{'waba_ban_state':'SCHEDULE_FOR_DISABLE'}}",
	                    NULL),
	    0);
	CU_ASSERT_EQUAL(standing("{'event':'DISABLED_UPDATE','ban_info':"
	                         "{'waba_ban_state':'DISABLED_SOMEHOW'}}",
	                    NULL),
	    0);
	CU_ASSERT_EQUAL(standing("{'event':'DISABLED_UPDATE','ban_info':"
	                         "{'waba_ban_state':'REINSTATED'}}",
	                    NULL),
	    0);
	CU_ASSERT_EQUAL(standing("{'event':'DISABLED_UPDATE'}", NULL), 0);
	CU_ASSERT_EQUAL(standing("{'event':'PARTNER_REMOVED'," WI "}", NULL),
	    0);
	CU_ASSERT_EQUAL(standing("{'event':'ACCOUNT_VIOLATION',"
	                         "'violation_info':{'violation_type':'SCAM'}}",
	                    NULL),
	    0);
	memset(&ev, 0, sizeof(ev));
	ev.kind = WEBHOOK_MESSAGE;
	strcpy(ev.event, "ACCOUNT_RESTRICTION");
	CU_ASSERT_EQUAL(webhook_event_standing(&ev), WEBHOOK_NEUTRAL);
	CU_ASSERT_EQUAL(webhook_event_standing(NULL), WEBHOOK_NEUTRAL);
}

static int
before_webhook(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

/* --- What Meta sent, whole (the events feed) -------------------------- */

/* 1 when JSON text have and the single-quoted want are the same value. */
static int
same_json(const char *have, const char *squoted)
{
	char               *w = sq(squoted);
	struct json_object *a = have ? json_tokener_parse(have) : NULL,
	                   *b = json_tokener_parse(w);
	int eq = a != NULL && b != NULL && json_object_equal(a, b);

	if (!eq)
		fprintf(stderr, "have %s\nwant %s\n", have ? have : "(null)",
		    w);
	json_object_put(a);
	json_object_put(b);
	free(w);
	return eq;
}

#define IMG \
	"{'from':'16505551234','id':'wamid.IMG','timestamp':'1764570000'," \
	"'type':'image','context':{'from':'15550783881','id':'wamid.CTX'}," \
	"'image':{'caption':'the damage','mime_type':'image/jpeg'," \
	"'sha256':'uVX9MUKhK0Bq6gfLPn1Ft8mBkbYzaPmZfwbGHwWxT1I=','id':'1003'}}"
#define LOC \
	"{'from':'16505550000','id':'wamid.LOC','timestamp':'1764570001'," \
	"'type':'location','location':{'latitude':52.517036,'longitude':" \
	"13.38886,'name':'Forum','address':'Unter den Linden 1'}}"
#define CT1 "{'profile':{'name':'Kerstin'},'wa_id':'16505551234'}"
#define CT2 "{'profile':{'name':'Other'},'wa_id':'16505550000'}"
#define STATUS_PRICED \
	"{'id':'wamid.OUT','status':'delivered','timestamp':'1764570002'," \
	"'recipient_id':'16505551234','conversation':{'id':'c1','origin':" \
	"{'type':'marketing'}},'pricing':{'billable':true,'pricing_model':" \
	"'PMP','category':'marketing','type':'regular'}}"
#define VALERR \
	"{'code':131000,'title':'Something went wrong','message':" \
	"'Something went wrong','error_data':{'details':'Unable'}}"
#define META_PART \
	"{'display_phone_number':'15550783881','phone_number_id':'" PNID "'}"

static void
test_objects_kept_whole(void)
{
	struct webhook_batch b;

	CU_ASSERT_EQUAL_FATAL(parse(DELIVERY(ENTRY(WABA,
	                                CHANGE("messages",
	                                    MSGVAL("'contacts':[" CT1 "," CT2
	                                           "],'messages':[" IMG "," LOC
	                                           "]")) "," CHANGE("messages",
	                                    MSGVAL(
	                                        "'statuses':[" STATUS_PRICED
	                                        "],'errors':[" VALERR "]")))),
	                          &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 4);
	CU_ASSERT(same_json(b.ev[0].object, IMG));
	CU_ASSERT(same_json(b.ev[0].metadata, META_PART));
	CU_ASSERT(same_json(b.ev[0].contact, CT1));
	/* Matched by wa_id, not by place. */
	CU_ASSERT(same_json(b.ev[1].object, LOC));
	CU_ASSERT(same_json(b.ev[1].contact, CT2));
	CU_ASSERT(same_json(b.ev[2].object, STATUS_PRICED));
	CU_ASSERT(same_json(b.ev[2].metadata, META_PART));
	CU_ASSERT_PTR_NULL(b.ev[2].contact);
	CU_ASSERT_EQUAL(b.ev[3].kind, WEBHOOK_ERROR);
	CU_ASSERT(same_json(b.ev[3].object, VALERR));
	CU_ASSERT_PTR_NULL(b.ev[3].contact);
	webhook_batch_free(&b);
}

static void
test_contact_choice(void)
{
	struct webhook_batch b;

	/* The only entry, whatever its wa_id says. */
	CU_ASSERT_EQUAL_FATAL(parse(DELIVERY(ENTRY(WABA,
	                                CHANGE("messages",
	                                    MSGVAL("'contacts':[" CT2
	                                           "],'messages':[" IMG "]")))),
	                          &b),
	    WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT(same_json(b.ev[0].contact, CT2));
	webhook_batch_free(&b);
	/* Two that are not the sender: none. No contacts: none. */
	CU_ASSERT_EQUAL_FATAL(parse(DELIVERY(ENTRY(WABA,
	                                CHANGE("messages",
	                                    MSGVAL("'contacts':[" CT2 "," CT2
	                                           "],'messages':[" IMG "]")))),
	                          &b),
	    WEBHOOK_OK);
	CU_ASSERT_PTR_NULL(b.ev[0].contact);
	webhook_batch_free(&b);
	CU_ASSERT_EQUAL_FATAL(parse(DELIVERY(ENTRY(WABA,
	                                CHANGE("messages",
	                                    MSGVAL("'messages':[" IMG "]")))),
	                          &b),
	    WEBHOOK_OK);
	CU_ASSERT_PTR_NULL(b.ev[0].contact);
	CU_ASSERT(same_json(b.ev[0].object, IMG));
	webhook_batch_free(&b);
}

static void
test_account_update_object(void)
{
	struct webhook_batch b;
	const char *v = "{'event':'ACCOUNT_VIOLATION','violation_info':"
	                "{'violation_type':'SCAM'}}";
	char        d[512];

	snprintf(d, sizeof(d),
	    DELIVERY("{'id':'" WABA "','time':1764570000,'changes':["
	             "{'field':'account_update','value':%s}]}"),
	    v);
	CU_ASSERT_EQUAL_FATAL(parse(d, &b), WEBHOOK_OK);
	CU_ASSERT_EQUAL_FATAL(b.n, 1);
	CU_ASSERT(same_json(b.ev[0].object, v));
	CU_ASSERT_PTR_NULL(b.ev[0].metadata);
	CU_ASSERT_PTR_NULL(b.ev[0].contact);
	webhook_batch_free(&b);
}

static const struct ut_test tests[] = { { "signature ok", test_sig_ok },
	{ "signature bad", test_sig_bad },
	{ "text message", test_text_message },
	{ "image message", test_image_message },
	{ "sender by user id", test_bsuid_sender },
	{ "statuses", test_statuses }, { "value errors", test_value_errors },
	{ "partner events", test_partner_events },
	{ "account events", test_account_events },
	{ "several entries", test_multi }, { "redelivery", test_redelivery },
	{ "refused", test_refused }, { "empty entry", test_empty },
	{ "skipped", test_skipped }, { "limits", test_limits },
	{ "long text", test_long_text }, { "loss", test_loss },
	{ "standing", test_standing }, { "coexistence echoes", test_echoes },
	{ "coexistence state sync", test_state_sync },
	{ "coexistence history", test_history },
	{ "coexistence skipped", test_coexistence_skipped },
	{ "objects kept whole", test_objects_kept_whole },
	{ "contact choice", test_contact_choice },
	{ "account_update object", test_account_update_object },
	{ "trouble fields", test_trouble_fields },
	{ "offboarded standing", test_offboarded_standing }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "webhook", before_webhook, NULL, NULL,
	                                  tests },
	{ NULL, NULL, NULL, NULL, NULL } };
