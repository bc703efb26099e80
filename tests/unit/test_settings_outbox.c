/*
 * settings_outbox: the Outbox card's words from store_conn_page's
 * outbox column (store_outbox_page_from): the column read back, a
 * family's scan that stopped said as such, why a queue waits paused, and
 * when the card is left out.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "../../src/handlers/settings_outbox.h"
#include "../../src/store/connection.h"
#include "../../src/store/outbox.h"
#include "harness.h"

/* The column's text: now [paused, sending, queued], hour [unknown, failed, sent]. */
static char *
column(long p, long s, long q, long u, long f, long t, const char *wait,
    const char *paused)
{
	static char b[300];

	snprintf(b, sizeof(b),
	    "{\"now\": [%ld, %ld, %ld], \"hour\": [%ld, %ld, %ld], "
	    "\"wait_s\": %s, \"paused_s\": %s}",
	    p, s, q, u, f, t, wait, paused);
	return b;
}

static void
test_column_read_back(void)
{
	struct outbox_page o;

	UT_EQ_INT(store_outbox_page_from(column(0, 1, 3, 4, 2, 9, "75", "null"),
	              &o),
	    0);
	UT_EQ_INT(o.n[OBX_QUEUED], 3);
	UT_EQ_INT(o.n[OBX_SENDING], 1);
	UT_EQ_INT(o.n[OBX_PAUSED], 0);
	UT_EQ_INT(o.n[OBX_SENT_1H], 9);
	UT_EQ_INT(o.n[OBX_FAILED_1H], 2);
	UT_EQ_INT(o.n[OBX_UNKNOWN_1H], 4);
	UT_EQ_INT(o.how[OBX_QUEUED], OBX_EXACT);
	UT_EQ_INT(o.how[OBX_SENT_1H], OBX_EXACT);
	UT_EQ_INT(o.wait_s, 75);
	UT_EQ_INT(o.paused_s, -1);
	/* The scan stopped in queued: at least; before it, exact. */
	UT_EQ_INT(store_outbox_page_from(column(0, 40, OUTBOX_PAGE_SCAN - 40, 0,
	                                     3, OUTBOX_PAGE_SCAN - 3, "9",
	                                     "null"),
	              &o),
	    0);
	UT_EQ_INT(o.how[OBX_PAUSED], OBX_EXACT);
	UT_EQ_INT(o.how[OBX_SENDING], OBX_EXACT);
	UT_EQ_INT(o.how[OBX_QUEUED], OBX_AT_LEAST);
	UT_EQ_INT(o.n[OBX_QUEUED], OUTBOX_PAGE_SCAN - 40);
	UT_EQ_INT(o.how[OBX_FAILED_1H], OBX_EXACT);
	UT_EQ_INT(o.how[OBX_SENT_1H], OBX_AT_LEAST);
	/* Stopped in paused: sending and queued were never reached. */
	UT_EQ_INT(store_outbox_page_from(column(OUTBOX_PAGE_SCAN, 0, 0, 0, 0, 0,
	                                     "null", "60"),
	              &o),
	    0);
	UT_EQ_INT(o.how[OBX_PAUSED], OBX_AT_LEAST);
	UT_EQ_INT(o.how[OBX_SENDING], OBX_UNCOUNTED);
	UT_EQ_INT(o.how[OBX_QUEUED], OBX_UNCOUNTED);
	UT_EQ_INT(o.how[OBX_SENT_1H], OBX_EXACT);
	/* More than the scan takes, a member missing, a count null: refused. */
	UT_EQ_INT(store_outbox_page_from(column(OUTBOX_PAGE_SCAN, 1, 0, 0, 0, 0,
	                                     "null", "60"),
	              &o),
	    -1);
	UT_EQ_INT(o.n[OBX_PAUSED], 0);
	UT_EQ_INT(o.wait_s, -1);
	UT_EQ_INT(store_outbox_page_from("{\"now\": [0, 0, 0], \"hour\": [0, "
	                                 "0, 0], \"wait_s\": null}",
	              &o),
	    -1);
	UT_EQ_INT(store_outbox_page_from("{\"now\": [null, 0, 0], \"hour\": "
	                                 "[0, 0, 0], \"wait_s\": null, "
	                                 "\"paused_s\": null}",
	              &o),
	    -1);
	UT_EQ_INT(store_outbox_page_from("{\"now\": [0, 0], \"hour\": [0, 0, "
	                                 "0], \"wait_s\": null, \"paused_s\": "
	                                 "null}",
	              &o),
	    -1);
	UT_EQ_INT(store_outbox_page_from("[1, 2]", &o), -1);
	UT_EQ_INT(store_outbox_page_from(NULL, &o), -1);
}

/* The card of p as JSON text, "" when there is none; freed by the caller. */
static char *
card(const struct conn_page *p)
{
	struct json_object *d = json_object_new_object(), *c;
	char               *s;

	settings_outbox(d, p);
	s = strdup(json_object_object_get_ex(d, "outbox", &c)
	        ? json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN)
	        : "");
	json_object_put(d);
	return s;
}

static void
page(struct conn_page *p, const char *status, int token, const char *col)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->conn.status, status);
	p->conn.has_token = token;
	CU_ASSERT_EQUAL(store_outbox_page_from(col, &p->outbox), 0);
}

static void
test_card(void)
{
	struct conn_page p;
	char            *s;

	/* No connection, nothing in the outbox to show: no card. */
	page(&p, "not_connected", 0, column(0, 0, 0, 0, 0, 0, "null", "null"));
	s = card(&p);
	UT_EQ_STR(s, "");
	free(s);
	/* Connected and empty: "Nothing queued", the hour's zeros. */
	page(&p, "connected", 1, column(0, 0, 0, 0, 0, 0, "null", "null"));
	s = card(&p);
	UT_HAS_STR(s, "\"empty\":true");
	UT_HAS_STR(s, "\"sent_1h\":\"0\"");
	UT_LACKS_STR(s, "paused_why");
	UT_LACKS_STR(s, "has_unknown");
	free(s);
	/* A scan that stopped: said as such; the oldest's wait in words. */
	page(&p, "connected", 1,
	    column(0, 5, OUTBOX_PAGE_SCAN - 5, 1, 0, 999, "119", "null"));
	s = card(&p);
	UT_HAS_STR(s, "\"queued\":\"at least 996\"");
	UT_HAS_STR(s, "\"sending\":\"5\"");
	UT_HAS_STR(s, "\"sent_1h\":\"999\"");
	UT_HAS_STR(s, "\"wait\":\"1 minute\"");
	UT_HAS_STR(s, "has_unknown");
	UT_LACKS_STR(s, "empty");
	UT_LACKS_STR(s, "stuck");
	free(s);
	/* Waiting long with nothing sending: the sender may not run. */
	page(&p, "connected", 1, column(0, 0, 3, 0, 0, 0, "7300", "null"));
	s = card(&p);
	UT_HAS_STR(s, "\"wait\":\"2 hours\"");
	UT_HAS_STR(s, "whether the sender runs");
	free(s);
	/* Not while sending, nor when the connection cannot send anyway. */
	page(&p, "connected", 1, column(0, 2, 3, 0, 0, 0, "7300", "null"));
	s = card(&p);
	UT_LACKS_STR(s, "stuck");
	free(s);
	page(&p, "needs_reconnect", 1,
	    column(0, 0, 3, 0, 0, 0, "7300", "null"));
	s = card(&p);
	UT_LACKS_STR(s, "stuck");
	free(s);
	/* A large paused queue: the rest not counted, the why still said. */
	page(&p, "needs_reconnect", 1,
	    column(OUTBOX_PAGE_SCAN, 0, 0, 0, 0, 0, "null", "4000"));
	s = card(&p);
	UT_HAS_STR(s, "\"paused\":\"at least 1001\"");
	UT_HAS_STR(s, "\"queued\":\"not counted\"");
	UT_HAS_STR(s, "\"paused_for\":\"66 minutes\"");
	UT_HAS_STR(s, "Meta no longer accepts this connection");
	free(s);
}

static void
test_paused_why(void)
{
	static const struct {
		const char *status;
		int         token;
		const char *words;
	} c[] = {
		{ "needs_reconnect", 1,
		    "Meta no longer accepts this connection (the access token "
		    "expired). Reconnect" },
		{ "not_connected", 0, "WhatsApp is not connected" },
		{ "pending_phone_selection", 1, "no phone number is chosen" },
		{ "connected", 1, "connected again, so the sender resumes" },
		{ "connected", 0, "WhatsApp is not connected" },
	};
	struct conn_page p;
	size_t           i;
	char            *s;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		ut_case("%s, token %d", c[i].status, c[i].token);
		page(&p, c[i].status, c[i].token,
		    column(12, 0, 0, 0, 0, 0, "null", "59"));
		strcpy(p.conn.reason, "the access token expired");
		s = card(&p);
		UT_HAS_STR(s, c[i].words);
		UT_HAS_STR(s, "\"paused\":\"12\"");
		UT_HAS_STR(s, "\"paused_for\":\"under a minute\"");
		/* Paused, not queued: no wait, no stuck note. */
		UT_LACKS_STR(s, "\"wait\"");
		UT_LACKS_STR(s, "stuck");
		free(s);
	}
}

static const struct ut_test tests[] = {
	{ "outbox column read back", test_column_read_back },
	{ "card", test_card },
	{ "why paused", test_paused_why },
	{ NULL, NULL },
};

const struct ut_suite ut_suites[] = {
	{ "settings_outbox", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL },
};
