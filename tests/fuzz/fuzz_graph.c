/*
 * The Graph answer parsers (src/graph.h): the input is a response body
 * as Meta (or anyone between us and Meta) could send it, handed to every
 * parser in turn, as the error parser with a 4xx and a 5xx status, and
 * as an x-fb-trace-id header line. Each must fill its typed fields or
 * say bad_response, never crash, leak or leave a field unterminated.
 */
#include "buf.h"
#include "fuzz.h"
#include "graph.h"

static void
check_err(const struct graph_err *e, int rc)
{
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(FUZZ_TERMINATED(e->type));
	FUZZ_CHECK(FUZZ_TERMINATED(e->message));
	FUZZ_CHECK(FUZZ_TERMINATED(e->user_msg));
	FUZZ_CHECK(FUZZ_TERMINATED(e->details));
	FUZZ_CHECK(FUZZ_TERMINATED(e->fbtrace_id));
	/* A refusal always says what was wrong. */
	if (rc == -1)
		FUZZ_CHECK(e->bad_response && e->message[0] != '\0');
}

/* Parsers only write err when they refuse: start from a clean one. */
static struct graph_err *
fresh(struct graph_err *e)
{
	memset(e, 0, sizeof(*e));
	return e;
}

static void
check_phone(const struct graph_phone *p)
{
	FUZZ_CHECK(FUZZ_TERMINATED(p->id));
	FUZZ_CHECK(FUZZ_TERMINATED(p->display_phone_number));
	FUZZ_CHECK(FUZZ_TERMINATED(p->verified_name));
	FUZZ_CHECK(FUZZ_TERMINATED(p->quality_rating));
	FUZZ_CHECK(FUZZ_TERMINATED(p->status));
	FUZZ_CHECK(FUZZ_TERMINATED(p->code_verification_status));
}

static void
parse_errors(const char *body, size_t len)
{
	static const long statuses[] = { 400, 401, 429, 503 };
	struct graph_err  e;
	size_t            i;
	int               rc;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		rc = graph_error_parse(statuses[i], body, len, &e);
		FUZZ_CHECK(rc == 0 || rc == -1);
		FUZZ_CHECK(e.http_status == statuses[i]);
		FUZZ_CHECK(FUZZ_TERMINATED(e.type));
		FUZZ_CHECK(FUZZ_TERMINATED(e.message));
		FUZZ_CHECK(FUZZ_TERMINATED(e.user_msg));
		FUZZ_CHECK(FUZZ_TERMINATED(e.details));
		FUZZ_CHECK(FUZZ_TERMINATED(e.fbtrace_id));
		FUZZ_CHECK(e.message[0] != '\0');
		if (statuses[i] == 429 || statuses[i] >= 500)
			FUZZ_CHECK(e.transient);
		FUZZ_CHECK(graph_reason_190(e.subcode) != NULL);
		(void)graph_err_is_token(&e);
	}
}

static void
parse_answers(const char *body, size_t len)
{
	struct graph_err        e;
	struct graph_token_info ti;
	struct graph_phone      ph, *list = NULL;
	struct buf              tok = BUF_INIT;
	char                    after[GRAPH_CURSOR_MAX], id[256], name[201],
	    rid[GRAPH_REQUEST_ID_MAX];
	long   expires_in = -1;
	size_t n = 0, i;
	int    rc;

	rc = graph_parse_access_token(body, len, &tok, &expires_in, fresh(&e));
	check_err(&e, rc);
	if (rc == 0)
		FUZZ_CHECK(tok.len > 0 && strlen(buf_str(&tok)) == tok.len);
	buf_free_secret(&tok);

	memset(&ti, 0, sizeof(ti));
	rc = graph_parse_token_info(body, len, &ti, fresh(&e));
	check_err(&e, rc);
	if (rc == 0) {
		FUZZ_CHECK(FUZZ_TERMINATED(ti.scopes));
		FUZZ_CHECK(FUZZ_TERMINATED(ti.waba_ids));
		FUZZ_CHECK(FUZZ_TERMINATED(ti.error_message));
		(void)graph_token_has_waba(&ti, "102290129340398");
		(void)graph_token_has_waba(&ti, "");
	}

	/* Two pages, as graph_phone_numbers follows a cursor. */
	for (i = 0; i < 2; i++) {
		rc = graph_parse_phones(body, len, &list, &n, after, fresh(&e));
		check_err(&e, rc);
		FUZZ_CHECK(n <= GRAPH_PHONES_MAX);
		if (rc == 0)
			FUZZ_CHECK(FUZZ_TERMINATED(after));
	}
	for (i = 0; i < n; i++)
		check_phone(&list[i]);
	free(list);

	rc = graph_parse_phone(body, len, &ph, fresh(&e));
	check_err(&e, rc);
	if (rc == 0)
		check_phone(&ph);

	check_err(&e, graph_parse_success(body, len, fresh(&e)));

	rc = graph_parse_message_id(body, len, id, fresh(&e));
	check_err(&e, rc);
	if (rc == 0)
		FUZZ_CHECK(FUZZ_TERMINATED(id));

	rc = graph_parse_request_id(body, len, rid, fresh(&e));
	check_err(&e, rc);
	if (rc == 0)
		FUZZ_CHECK(FUZZ_TERMINATED(rid) && rid[0] != '\0');

	rc = graph_parse_catalog(body, len, name, fresh(&e));
	check_err(&e, rc);
	if (rc == 0)
		FUZZ_CHECK(FUZZ_TERMINATED(name));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char   trace[64];
	size_t n;

	parse_errors((const char *)data, size);
	parse_answers((const char *)data, size);

	memset(trace, 'x', sizeof(trace));
	if (graph_trace_header((const char *)data, size, trace,
	        sizeof(trace))) {
		n = strlen(trace);
		FUZZ_CHECK(n > 0 && n < sizeof(trace));
		FUZZ_CHECK(
		    strspn(trace,
		        "abcdefghijklmnopqrstuvwxyz"
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/+=-") == n);
	}
	return 0;
}
