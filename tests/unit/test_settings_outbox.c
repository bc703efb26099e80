/*
 * settings_outbox: the Outbox card's words from store_conn_page's
 * outbox column (store_outbox_page_from): the column read back, counts
 * above the cap said as such, why a queue waits paused, and when the
 * card is left out.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "../../src/handlers/settings_outbox.h"
#include "../../src/store/connection.h"
#include "../../src/store/outbox.h"
#include "harness.h"

static void
test_column_read_back(void)
{
	struct outbox_page o;

	UT_EQ_INT(store_outbox_page_from("{\"queued\": 3, \"sending\": 1, "
	                                 "\"paused\": 0, \"sent\": 1001, "
	                                 "\"failed\": 2, \"unknown\": 4, "
	                                 "\"wait_s\": 75, \"paused_s\": null}",
	              &o),
	    0);
	UT_EQ_INT(o.g.queued, 3);
	UT_EQ_INT(o.g.sending, 1);
	UT_EQ_INT(o.g.paused, 0);
	UT_EQ_INT(o.g.sent_1h, 1001);
	UT_EQ_INT(o.g.failed_1h, 2);
	UT_EQ_INT(o.g.unknown_1h, 4);
	UT_EQ_INT(o.wait_s, 75);
	UT_EQ_INT(o.paused_s, -1);
	/* A member missing, a count null, not an object: refused, zeroed. */
	UT_EQ_INT(store_outbox_page_from("{\"queued\": 3}", &o), -1);
	UT_EQ_INT(o.g.queued, 0);
	UT_EQ_INT(o.wait_s, -1);
	UT_EQ_INT(store_outbox_page_from("{\"queued\": null, \"sending\": 1, "
	                                 "\"paused\": 0, \"sent\": 1, "
	                                 "\"failed\": 2, \"unknown\": 4, "
	                                 "\"wait_s\": 75, \"paused_s\": 1}",
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
page(struct conn_page *p, const char *status, int token)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->conn.status, status);
	p->conn.has_token = token;
	p->outbox.wait_s = p->outbox.paused_s = -1;
}

static void
test_card(void)
{
	struct conn_page p;
	char            *s;

	/* No connection, nothing ever queued in the last hour: no card. */
	page(&p, "not_connected", 0);
	s = card(&p);
	UT_EQ_STR(s, "");
	free(s);
	/* Connected and empty: "Nothing queued", the hour's zeros. */
	page(&p, "connected", 1);
	s = card(&p);
	UT_HAS_STR(s, "\"empty\":true");
	UT_HAS_STR(s, "\"sent_1h\":\"0\"");
	UT_LACKS_STR(s, "paused_why");
	free(s);
	/* Over the cap: said as such; the oldest's wait in words. */
	p.outbox.g.queued = OUTBOX_PAGE_CAP + 1;
	p.outbox.g.sending = 5;
	p.outbox.g.sent_1h = 999;
	p.outbox.wait_s = 119;
	s = card(&p);
	UT_HAS_STR(s, "\"queued\":\"more than 1000\"");
	UT_HAS_STR(s, "\"sent_1h\":\"999\"");
	UT_HAS_STR(s, "\"wait\":\"1 minute\"");
	UT_LACKS_STR(s, "empty");
	UT_LACKS_STR(s, "stuck");
	free(s);
	/* Waiting long with nothing sending: the sender may not run. */
	p.outbox.g.sending = 0;
	p.outbox.wait_s = 7300;
	s = card(&p);
	UT_HAS_STR(s, "\"wait\":\"2 hours\"");
	UT_HAS_STR(s, "whether the sender runs");
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
		page(&p, c[i].status, c[i].token);
		strcpy(p.conn.reason, "the access token expired");
		p.outbox.g.paused = 12;
		p.outbox.paused_s = 59;
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
