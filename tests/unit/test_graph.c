/*
 * Unit tests for src/graph.c and src/graph_parse.c: the pure parts of the
 * Graph client (appsecret_proof, URLs, error classification, and every
 * answer parser fed missing and wrong-typed fields). The calls themselves
 * are exercised against tests/sandbox/meta_sandbox.py by the integration
 * tests, except what the sandbox cannot stage: a connection lost after the
 * send with the server gone at once (lost_then_refused, a forked server).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "buf.h"
#include "config.h"
#include "graph.h"
#include "harness.h"

#define PARSE_ERR(status, s, e) graph_error_parse((status), (s), strlen(s), (e))
/* A literal body and its length. */
#define BODY(s) (s), strlen(s)

/* A Graph error body with the given members inside "error". */
static const char *
errbody(char *out, size_t size, const char *members)
{
	snprintf(out, size, "{\"error\":{%s,\"fbtrace_id\":\"AbC123\"}}",
	    members);
	return out;
}

/* --- appsecret_proof ------------------------------------------------- */

static void
test_proof(void)
{
	char out[65];
	char key[101];

	/* printf %s EAAGtoken | openssl dgst -sha256 -hmac app-secret */
	graph_appsecret_proof("app-secret", "EAAGtoken", out);
	CU_ASSERT_STRING_EQUAL(out,
	    "a4ce06bfe906a3dc23b52fe84057d568"
	    "2332255492b579adf8a54fd53fe8d74e");
	/* RFC 4231 test case 1: key 0x0b * 20, "Hi There". */
	memset(key, 0x0b, 20);
	key[20] = '\0';
	graph_appsecret_proof(key, "Hi There", out);
	CU_ASSERT_STRING_EQUAL(out,
	    "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	/* A key longer than a SHA-256 block is hashed first (RFC 2104):
	   python3 hmac.new(b'k'*100, b'1234|secret', sha256). */
	memset(key, 'k', 100);
	key[100] = '\0';
	graph_appsecret_proof(key, "1234|secret", out);
	CU_ASSERT_STRING_EQUAL(out,
	    "f27e56dade23b362714018d9f6a1ae9b"
	    "4b95e9df379c91327105bdfc23d6cb35");
	CU_ASSERT_EQUAL(strlen(out), 64);
}

/* --- secrets outside the URL: the Bearer header and form bodies ------- */

static void
test_bearer_header(void)
{
	char *h;

	h = graph_bearer_header("EAAGtoken");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_STRING_EQUAL(h, "Authorization: Bearer EAAGtoken");
	graph_secret_free(h);
	/* The app token of debug_token has a '|'. */
	h = graph_bearer_header("1234|s3cr3t");
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_STRING_EQUAL(h, "Authorization: Bearer 1234|s3cr3t");
	graph_secret_free(h);
	/* Nothing that could end the header or start another one. */
	CU_ASSERT_PTR_NULL(graph_bearer_header(NULL));
	CU_ASSERT_PTR_NULL(graph_bearer_header(""));
	CU_ASSERT_PTR_NULL(graph_bearer_header("EAAG\r\nX-Evil: 1"));
	CU_ASSERT_PTR_NULL(graph_bearer_header("EAAG\n"));
	CU_ASSERT_PTR_NULL(graph_bearer_header("EAAG token"));
	CU_ASSERT_PTR_NULL(graph_bearer_header("EAAG\ttoken"));
	CU_ASSERT_PTR_NULL(graph_bearer_header("EAAG\x7f"));
	CU_ASSERT_PTR_NULL(graph_bearer_header("EAAG\xc3\xa9"));
	graph_secret_free(NULL);
}

static void
test_form_encode(void)
{
	const char *const p1[] = { "client_id", "1234", "client_secret",
		"s3cr&t=x y", "redirect_uri",
		"https://app.example/oauth/meta/callback?a=1", "code",
		"AQ-_.~+/", NULL };
	const char *const p2[] = { "messaging_product", "whatsapp", "pin",
		"123456", NULL };
	const char *const utf8[] = { "t", "\xc3\xa9\x01", NULL };
	const char *const empty[] = { NULL };
	const char *const badkey[] = { "a&b", "1", NULL };
	const char *const nokey[] = { "", "1", NULL };
	const char *const noval[] = { "a", NULL, NULL };
	char             *b;

	b = graph_form_encode(p1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(b,
	    "client_id=1234&client_secret=s3cr%26t%3Dx"
	    "%20y&redirect_uri=https%3A%2F%2Fapp.example%2Foauth%2Fmeta%2F"
	    "callback%3Fa%3D1&code=AQ-_.~%2B%2F");
	graph_secret_free(b);
	b = graph_form_encode(p2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(b, "messaging_product=whatsapp&pin=123456");
	graph_secret_free(b);
	b = graph_form_encode(utf8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(b, "t=%C3%A9%01");
	graph_secret_free(b);
	b = graph_form_encode(empty);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(b, "");
	graph_secret_free(b);
	b = graph_form_encode(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(b, "");
	graph_secret_free(b);
	CU_ASSERT_PTR_NULL(graph_form_encode(badkey));
	CU_ASSERT_PTR_NULL(graph_form_encode(nokey));
	CU_ASSERT_PTR_NULL(graph_form_encode(noval));
}

/* --- the per-request budget and the trace header ---------------------- */

static void
test_budget(void)
{
	/* No budget (admin tool): the configured timeout, retries allowed. */
	CU_ASSERT_EQUAL(graph_attempt_timeout_ms(20000, -1), 20000);
	CU_ASSERT_TRUE(graph_retry_fits(4000, -1));
	/* An attempt never outlives the budget... */
	CU_ASSERT_EQUAL(graph_attempt_timeout_ms(20000, 30000), 20000);
	CU_ASSERT_EQUAL(graph_attempt_timeout_ms(20000, 7000), 7000);
	CU_ASSERT_EQUAL(graph_attempt_timeout_ms(20000, 0), 0);
	/* ...and a retry starts only when it still gets a useful attempt. */
	CU_ASSERT_TRUE(graph_retry_fits(1000, 1000 + GRAPH_MIN_ATTEMPT_MS));
	CU_ASSERT_FALSE(
	    graph_retry_fits(1000, 1000 + GRAPH_MIN_ATTEMPT_MS - 1));
	CU_ASSERT_FALSE(graph_retry_fits(4000, 3000));
	CU_ASSERT_FALSE(graph_retry_fits(0, 0));
}

static void
test_trace_header(void)
{
	char        out[64];
	const char *l;

	strcpy(out, "keep");
	l = "x-fb-trace-id: AbC/12+x=_-\r\n";
	CU_ASSERT_EQUAL(graph_trace_header(l, strlen(l), out, sizeof(out)), 1);
	CU_ASSERT_STRING_EQUAL(out, "AbC/12+x=_-");
	l = "X-FB-Trace-ID:\tZz9\r\n";
	CU_ASSERT_EQUAL(graph_trace_header(l, strlen(l), out, sizeof(out)), 1);
	CU_ASSERT_STRING_EQUAL(out, "Zz9");
	/* Other headers, empty values, and anything that could forge a log
	   line leave out as it was. */
	strcpy(out, "keep");
	l = "x-fb-debug: abc\r\n";
	CU_ASSERT_EQUAL(graph_trace_header(l, strlen(l), out, sizeof(out)), 0);
	l = "x-fb-trace-id: \r\n";
	CU_ASSERT_EQUAL(graph_trace_header(l, strlen(l), out, sizeof(out)), 0);
	l = "x-fb-trace-id: a b\r\n";
	CU_ASSERT_EQUAL(graph_trace_header(l, strlen(l), out, sizeof(out)), 0);
	l = "x-fb-trace-id: abc\"def\r\n";
	CU_ASSERT_EQUAL(graph_trace_header(l, strlen(l), out, sizeof(out)), 0);
	l = "x-fb-trace-id: 0123456789\r\n";
	CU_ASSERT_EQUAL(graph_trace_header(l, strlen(l), out, 8), 0);
	CU_ASSERT_STRING_EQUAL(out, "keep");
}

/* --- URLs --------------------------------------------------------------- */

static void
check_url(const char *base, const char *ver, const char *path,
    const char *const *params, const char *want)
{
	char *u = graph_build_url(base, ver, path, params);
	char *pfx, *j;

	if (want == NULL) {
		CU_ASSERT_PTR_NULL(u);
	} else {
		CU_ASSERT_PTR_NOT_NULL_FATAL(u);
		CU_ASSERT_STRING_EQUAL(u, want);
	}
	free(u);
	/* graph_do's short way, for calls without params: the same URL. */
	if (params != NULL || (pfx = graph_url_prefix(base, ver)) == NULL)
		return;
	j = graph_url_join(pfx, path);
	if (want == NULL || strncmp(path, "upload:", 7) == 0) {
		CU_ASSERT_PTR_NULL(j);
	} else {
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		CU_ASSERT_STRING_EQUAL(j, want);
	}
	free(j);
	free(pfx);
}

static void
test_url_prefix(void)
{
	char *p = graph_url_prefix("http://127.0.0.1:8089/meta//", "v25.0");

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p, "http://127.0.0.1:8089/meta/v25.0/");
	free(p);
	CU_ASSERT_PTR_NULL(graph_url_prefix("not a url", "v25.0"));
	CU_ASSERT_PTR_NULL(
	    graph_url_prefix("https://graph.facebook.com", "v25/0"));
	CU_ASSERT_PTR_NULL(graph_url_join(NULL, "me"));
}

static void
test_url_basic(void)
{
	const char *const p[] = { "fields", "id,name", NULL };

	check_url("https://graph.facebook.com", "v25.0", "debug_token", NULL,
	    "https://graph.facebook.com/v25.0/debug_token");
	/* A trailing slash (or several) on the base does not double up. */
	check_url("https://graph.facebook.com/", "v25.0", "123/phone_numbers",
	    NULL, "https://graph.facebook.com/v25.0/123/phone_numbers");
	check_url("http://127.0.0.1:8089//", "v19.0", "oauth/access_token",
	    NULL, "http://127.0.0.1:8089/v19.0/oauth/access_token");
	/* A base with a path prefix keeps it. */
	check_url("http://127.0.0.1:8089/meta/", "v25.0", "880011", p,
	    "http://127.0.0.1:8089/meta/v25.0/880011?fields=id%2cname");
}

static void
test_url_escaping(void)
{
	const char *const p[] = { "redirect_uri",
		"https://app.example/oauth/meta/callback?x=1", "code",
		"AQ&evil=1", "v", "a b+c=d", "h", "#frag%", "u", "caf\xc3\xa9",
		"e", "", NULL };
	char             *u;

	u = graph_build_url("https://graph.facebook.com", "v25.0",
	    "oauth/access_token", p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_STRING_EQUAL(u,
	    "https://graph.facebook.com/v25.0/oauth/"
	    "access_token?redirect_uri=https%3a%2f%2fapp.example%2foauth%2f"
	    "meta%2fcallback%3fx%3d1&code=AQ%26evil%3d1&v=a+b%2bc%3dd"
	    "&h=%23frag%25&u=caf%c3%a9&e=");
	/* Nothing a value holds can start a fragment or another param. */
	CU_ASSERT_PTR_NULL(strchr(u, '#'));
	CU_ASSERT_PTR_NULL(strstr(u, "&evil"));
	free(u);
}

static void
test_url_rejects(void)
{
	const char *const badkey[] = { "a&b", "1", NULL };
	const char *const nullval[] = { "a", NULL, NULL };
	const char       *paths[] = { "../me", "a/../b", "a/..", "..", "a?b=1",
		      "a%2fb", "a@b", "a#b", "a b", "", "/abc", "abc/", "a//b", "./a",
		      "a/./b", "a\\b", "caf\xc3\xa9" };
	size_t            i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		check_url("https://graph.facebook.com", "v25.0", paths[i], NULL,
		    NULL);
	check_url("https://graph.facebook.com", "v25.0/x", "me", NULL, NULL);
	check_url("https://graph.facebook.com", "", "me", NULL, NULL);
	check_url("https://graph.facebook.com", "..", "me", NULL, NULL);
	check_url("https://graph.facebook.com", "v25.0", "me", badkey, NULL);
	check_url("https://graph.facebook.com", "v25.0", "me", nullval, NULL);
	check_url("not a url", "v25.0", "me", NULL, NULL);
	check_url(NULL, "v25.0", "me", NULL, NULL);
	/* Dots inside a name are fine: they are not dot segments. */
	check_url("https://graph.facebook.com", "v25.0", "a.b/c-d_e", NULL,
	    "https://graph.facebook.com/v25.0/a.b/c-d_e");
}

/* --- Errors -------------------------------------------------------------- */

static void
test_err_190(void)
{
	static const struct {
		long        sub;
		const char *words;
	} cases[] = {
		{ 458, "the app was removed from the business" },
		{ 460, "the Facebook password was changed" },
		{ 463, "the access token expired" },
		{ 467, NULL },
		{ 0, "Meta no longer accepts the access token" },
	};
	struct graph_err e;
	char             b[512], m[160], sub[32];
	size_t           i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sub[0] = '\0';
		if (cases[i].sub != 0)
			snprintf(sub, sizeof(sub), ",\"error_subcode\":%ld",
			    cases[i].sub);
		snprintf(m, sizeof(m),
		    "\"message\":\"Error validating access "
		    "token\",\"type\":\"OAuthException\",\"code\":190%s",
		    sub);
		CU_ASSERT_EQUAL(PARSE_ERR(400, errbody(b, sizeof(b), m), &e),
		    0);
		CU_ASSERT_EQUAL(e.http_status, 400);
		CU_ASSERT_EQUAL(e.code, 190);
		CU_ASSERT_EQUAL(e.subcode, cases[i].sub);
		CU_ASSERT_FALSE(e.transient);
		CU_ASSERT_TRUE(graph_err_is_token(&e));
		CU_ASSERT_STRING_EQUAL(e.type, "OAuthException");
		CU_ASSERT_STRING_EQUAL(e.fbtrace_id, "AbC123");
		CU_ASSERT_STRING_EQUAL(e.message,
		    "Error validating access token");
		if (cases[i].words != NULL)
			CU_ASSERT_STRING_EQUAL(graph_reason_190(cases[i].sub),
			    cases[i].words);
	}
	/* 467 has words of its own, not the generic ones. */
	CU_ASSERT_STRING_NOT_EQUAL(graph_reason_190(467), graph_reason_190(0));
	CU_ASSERT_STRING_NOT_EQUAL(graph_reason_190(459), graph_reason_190(0));
	CU_ASSERT_STRING_EQUAL(graph_reason_190(12345), graph_reason_190(0));
	/* 102 API Session is a dead token too; 100 is not. */
	PARSE_ERR(400, "{\"error\":{\"message\":\"x\",\"code\":102}}", &e);
	CU_ASSERT_TRUE(graph_err_is_token(&e));
	PARSE_ERR(400, "{\"error\":{\"message\":\"x\",\"code\":100}}", &e);
	CU_ASSERT_FALSE(graph_err_is_token(&e));
	CU_ASSERT_FALSE(graph_err_is_token(NULL));
}

static void
test_err_rate_limits(void)
{
	static const long codes[] = { 4, 17, 32, 613, 80007, 130429, 131056, 1,
		2 };
	struct graph_err  e;
	char              b[512], m[128];
	size_t            i;

	/* Graph answers app throttling with HTTP 400: the code decides. */
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(m, sizeof(m),
		    "\"message\":\"(#%ld) limit\","
		    "\"type\":\"OAuthException\",\"code\":%ld",
		    codes[i], codes[i]);
		CU_ASSERT_EQUAL(PARSE_ERR(400, errbody(b, sizeof(b), m), &e),
		    0);
		CU_ASSERT_EQUAL(e.code, codes[i]);
		CU_ASSERT_TRUE(e.transient);
		CU_ASSERT_FALSE(graph_err_is_token(&e));
		CU_ASSERT_TRUE(graph_code_is_transient(codes[i]));
		/* 1 and 2 are downtime, not a limit to wait out. */
		CU_ASSERT_EQUAL(graph_err_is_rate_limit(&e), codes[i] > 2);
		CU_ASSERT_EQUAL(graph_err_retry_after(&e),
		    codes[i] == 130429       ? 1
		        : codes[i] == 131056 ? 6
		                             : 60);
	}
	/* The spam rate limit and the other business use case limits. */
	memset(&e, 0, sizeof(e));
	e.code = 131048;
	CU_ASSERT_TRUE(graph_err_is_rate_limit(&e));
	e.code = 80014;
	CU_ASSERT_TRUE(graph_err_is_rate_limit(&e));
	e.code = 80015;
	CU_ASSERT_FALSE(graph_err_is_rate_limit(&e));
	e.http_status = 429; /* whatever the code, a 429 is a limit */
	CU_ASSERT_TRUE(graph_err_is_rate_limit(&e));
	/* Not called (the bulkhead, the breaker): its own wait. */
	memset(&e, 0, sizeof(e));
	e.unavailable = 1;
	CU_ASSERT_EQUAL(graph_err_retry_after(&e), 1);
	e.retry_after = 7;
	CU_ASSERT_EQUAL(graph_err_retry_after(&e), 7);
	/* The sandbox's (and Meta's) 130429 body, with HTTP 429. */
	CU_ASSERT_EQUAL(
	    PARSE_ERR(429,
	        "{\"error\":{\"message\":\"(#130429) "
	        "Rate limit hit\",\"type\":\"OAuthException\",\"code\":130429,"
	        "\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":"
	        "\"Cloud API message throughput has been reached.\"},"
	        "\"error_subcode\":2494055,\"fbtrace_id\":\"Az8or2yhqkZfEZ-_4Qn_"
	        "Bam\"}}",
	        &e),
	    0);
	CU_ASSERT_EQUAL(e.http_status, 429);
	CU_ASSERT_EQUAL(e.code, 130429);
	CU_ASSERT_EQUAL(e.subcode, 2494055);
	CU_ASSERT_TRUE(e.transient);
	CU_ASSERT_STRING_EQUAL(e.fbtrace_id, "Az8or2yhqkZfEZ-_4Qn_Bam");
	CU_ASSERT_STRING_EQUAL(e.details,
	    "Cloud API message throughput has been reached.");
	/* 429 alone is enough, whatever the code. */
	PARSE_ERR(429, "{\"error\":{\"message\":\"x\",\"code\":100}}", &e);
	CU_ASSERT_TRUE(e.transient);
}

/*
 * rejected: what a call that must not run twice may retry on. Table:
 * status, body, want transient, want rejected.
 */
static void
test_err_rejected(void)
{
	static const struct {
		long        status;
		const char *body;
		int         transient, rejected;
	} t[] = {
		/* Meta's throttling and downtime codes: refused, not done. */
		{ 400, "{\"error\":{\"message\":\"x\",\"code\":4}}", 1, 1 },
		{ 400, "{\"error\":{\"message\":\"x\",\"code\":80007}}", 1, 1 },
		{ 500,
		    "{\"error\":{\"message\":\"x\",\"code\":2,"
		    "\"is_transient\":true}}",
		    1, 1 },
		{ 503, "{\"error\":{\"message\":\"x\",\"code\":131016}}", 1,
		    1 },
		{ 429, "{\"error\":{\"message\":\"x\",\"code\":130429}}", 1,
		    1 },
		/* 429 says not processed, whatever the body. */
		{ 429, "<html>Too Many Requests</html>", 1, 1 },
		/* Code 1 is only "possibly" temporary: may have been done. */
		{ 500, "{\"error\":{\"message\":\"x\",\"code\":1}}", 1, 0 },
		/* is_transient alone does not say the call did not run. */
		{ 400,
		    "{\"error\":{\"message\":\"x\",\"code\":12345,"
		    "\"is_transient\":true}}",
		    1, 0 },
		/* An edge proxy's bare 5xx: worth a retry if idempotent only. */
		{ 504, "<html><body>504 Gateway Time-out</body></html>", 1, 0 },
		{ 502, "", 1, 0 },
		{ 500, "{\"message\":\"no error object\"}", 1, 0 },
		{ 400, "{\"error\":{\"message\":\"x\",\"code\":100}}", 0, 0 },
	};
	struct graph_err e;
	size_t           i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		graph_error_parse(t[i].status, t[i].body, strlen(t[i].body),
		    &e);
		if (e.transient != t[i].transient ||
		    e.rejected != t[i].rejected)
			fprintf(stderr,
			    "case %zu (%ld %s): have transient %d "
			    "rejected %d, want %d %d\n",
			    i, t[i].status, t[i].body, e.transient, e.rejected,
			    t[i].transient, t[i].rejected);
		CU_ASSERT_EQUAL(e.transient, t[i].transient);
		CU_ASSERT_EQUAL(e.rejected, t[i].rejected);
		CU_ASSERT_FALSE(e.maybe_done); /* graph_do's to decide */
	}
	CU_ASSERT_FALSE(graph_code_is_rejection(1));
	CU_ASSERT_TRUE(graph_code_is_rejection(2));
	CU_ASSERT_TRUE(graph_code_is_rejection(341));
	CU_ASSERT_FALSE(graph_code_is_rejection(190));
}

static void
test_err_not_transient(void)
{
	struct graph_err e;

	CU_ASSERT_EQUAL(
	    PARSE_ERR(400,
	        "{\"error\":{\"message\":\"Unsupported "
	        "get request. Object with ID '1' does not exist\",\"type\":"
	        "\"GraphMethodException\",\"code\":100,\"error_subcode\":33,"
	        "\"fbtrace_id\":\"x\"}}",
	        &e),
	    0);
	CU_ASSERT_EQUAL(e.code, 100);
	CU_ASSERT_EQUAL(e.subcode, 33);
	CU_ASSERT_FALSE(e.transient);
	CU_ASSERT_STRING_EQUAL(e.type, "GraphMethodException");
	/* Permission denied (403, code 200) is not worth retrying. */
	PARSE_ERR(403,
	    "{\"error\":{\"message\":\"(#200) Permissions error\","
	    "\"code\":200}}",
	    &e);
	CU_ASSERT_FALSE(e.transient);
	CU_ASSERT_EQUAL(e.code, 200);
}

static void
test_err_whatsapp(void)
{
	static const long perm[] = { 131026, 133005, 133010, 131047, 131008,
		131009, 131030, 131005 };
	struct graph_err  e;
	char              b[512], m[160];
	size_t            i;

	for (i = 0; i < sizeof(perm) / sizeof(perm[0]); i++) {
		snprintf(m, sizeof(m),
		    "\"message\":\"(#%ld) x\",\"type\":"
		    "\"OAuthException\",\"code\":%ld,\"error_data\":{"
		    "\"messaging_product\":\"whatsapp\",\"details\":\"d\"}",
		    perm[i], perm[i]);
		CU_ASSERT_EQUAL(PARSE_ERR(400, errbody(b, sizeof(b), m), &e),
		    0);
		CU_ASSERT_EQUAL(e.code, perm[i]);
		CU_ASSERT_FALSE(e.transient);
		CU_ASSERT_FALSE(graph_err_is_token(&e));
	}
	PARSE_ERR(400,
	    "{\"error\":{\"message\":\"(#133005) Two step "
	    "verification PIN Mismatch\",\"type\":\"OAuthException\","
	    "\"code\":133005,\"error_user_title\":\"PIN\",\"error_user_msg\":"
	    "\"Check the PIN\",\"fbtrace_id\":\"F1\"}}",
	    &e);
	CU_ASSERT_STRING_EQUAL(e.message,
	    "(#133005) Two step verification "
	    "PIN Mismatch");
	CU_ASSERT_STRING_EQUAL(e.user_msg, "Check the PIN");
	/* Temporary Cloud API outages are retried. */
	CU_ASSERT_TRUE(graph_code_is_transient(131016));
	CU_ASSERT_TRUE(graph_code_is_transient(133004));
	CU_ASSERT_FALSE(graph_code_is_transient(131000 + 26));
	CU_ASSERT_FALSE(graph_code_is_transient(0));
	CU_ASSERT_FALSE(graph_code_is_transient(190));
}

static void
test_err_is_transient_flag(void)
{
	struct graph_err e;

	CU_ASSERT_EQUAL(
	    PARSE_ERR(400,
	        "{\"error\":{\"message\":\"Temporary\","
	        "\"type\":\"OAuthException\",\"code\":12345,\"is_transient\":"
	        "true}}",
	        &e),
	    0);
	CU_ASSERT_TRUE(e.transient);
	PARSE_ERR(400,
	    "{\"error\":{\"message\":\"x\",\"code\":12345,"
	    "\"is_transient\":false}}",
	    &e);
	CU_ASSERT_FALSE(e.transient);
	/* Only a JSON true counts. */
	PARSE_ERR(400,
	    "{\"error\":{\"message\":\"x\",\"code\":12345,"
	    "\"is_transient\":\"true\"}}",
	    &e);
	CU_ASSERT_FALSE(e.transient);
}

static void
test_err_no_object(void)
{
	struct graph_err e;
	const char      *html = "<html><body>502 Bad Gateway</body></html>";

	/* A 5xx with an HTML page: transient, no Graph error. */
	CU_ASSERT_EQUAL(graph_error_parse(500, html, strlen(html), &e), -1);
	CU_ASSERT_TRUE(e.transient);
	CU_ASSERT_EQUAL(e.http_status, 500);
	CU_ASSERT_EQUAL(e.code, 0);
	CU_ASSERT_FALSE(e.bad_response);
	CU_ASSERT_STRING_NOT_EQUAL(e.message, "");
	CU_ASSERT_EQUAL(graph_error_parse(503, NULL, 0, &e), -1);
	CU_ASSERT_TRUE(e.transient);
	/* A 400 whose JSON has no "error" member. */
	CU_ASSERT_EQUAL(PARSE_ERR(400, "{\"message\":\"nope\"}", &e), -1);
	CU_ASSERT_FALSE(e.transient);
	CU_ASSERT_EQUAL(e.http_status, 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "400"));
	CU_ASSERT_EQUAL(PARSE_ERR(400, "", &e), -1);
	CU_ASSERT_EQUAL(PARSE_ERR(400, "[1,2]", &e), -1);
	CU_ASSERT_EQUAL(PARSE_ERR(400, "{\"error\":[]}", &e), -1);
	CU_ASSERT_EQUAL(PARSE_ERR(400, "{\"error\":\"invalid_request\"}", &e),
	    -1);
	CU_ASSERT_EQUAL(PARSE_ERR(400, "{\"error\":null}", &e), -1);
	/* Truncated JSON, and JSON followed by junk. */
	CU_ASSERT_EQUAL(PARSE_ERR(400, "{\"error\":{\"code\":190", &e), -1);
	CU_ASSERT_EQUAL(PARSE_ERR(400, "{\"error\":{\"code\":190}} x", &e), -1);
	/* Trailing white space is still one document. */
	CU_ASSERT_EQUAL(PARSE_ERR(400, "{\"error\":{\"code\":190}}\r\n", &e),
	    0);
	CU_ASSERT_EQUAL(e.code, 190);
}

static void
test_err_wrong_types(void)
{
	struct graph_err e;
	char            *deep;
	size_t           i;

	/* A code sent as a decimal string is still understood. */
	CU_ASSERT_EQUAL(PARSE_ERR(400,
	                    "{\"error\":{\"message\":\"m\",\"code\":"
	                    "\"190\",\"error_subcode\":\"463\"}}",
	                    &e),
	    0);
	CU_ASSERT_EQUAL(e.code, 190);
	CU_ASSERT_EQUAL(e.subcode, 463);
	CU_ASSERT_TRUE(graph_err_is_token(&e));
	/* Anything else wrong-typed is ignored, never fatal. */
	CU_ASSERT_EQUAL(
	    PARSE_ERR(400,
	        "{\"error\":{\"message\":42,\"code\":"
	        "\"19x\",\"error_subcode\":[1],\"type\":{},\"fbtrace_id\":12345,"
	        "\"error_user_msg\":null}}",
	        &e),
	    0);
	CU_ASSERT_EQUAL(e.code, 0);
	CU_ASSERT_EQUAL(e.subcode, 0);
	CU_ASSERT_STRING_EQUAL(e.fbtrace_id, "");
	CU_ASSERT_STRING_EQUAL(e.type, "");
	CU_ASSERT_STRING_EQUAL(e.user_msg, "");
	CU_ASSERT_STRING_NOT_EQUAL(e.message, ""); /* ours, generic */
	PARSE_ERR(400, "{\"error\":{\"code\":1.5e3,\"message\":\"m\"}}", &e);
	CU_ASSERT_EQUAL(e.code, 0);
	PARSE_ERR(400, "{\"error\":{\"code\":\"99999999999999999999999\"}}",
	    &e);
	CU_ASSERT_EQUAL(e.code, 0);
	/* A message with a NUL inside is not copied as a cut string. */
	CU_ASSERT_EQUAL(PARSE_ERR(400,
	                    "{\"error\":{\"code\":1,\"message\":"
	                    "\"a\\u0000b\"}}",
	                    &e),
	    0);
	CU_ASSERT_STRING_NOT_EQUAL(e.message, "a");
	/* Nesting deeper than any Graph answer is refused, not recursed. */
	deep = malloc(20001);
	CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
	for (i = 0; i < 10000; i++) {
		deep[i] = '[';
		deep[10000 + i] = ']';
	}
	deep[20000] = '\0';
	CU_ASSERT_EQUAL(graph_error_parse(400, deep, 20000, &e), -1);
	free(deep);
}

static void
test_err_long_fields(void)
{
	struct graph_err e;
	struct buf       b = BUF_INIT;
	size_t           i;

	/* 3000 'x's then a 2-byte character straddling the cut. */
	buf_puts(&b, "{\"error\":{\"code\":100,\"message\":\"");
	for (i = 0; i < 510; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\xc3\xa9");
	for (i = 0; i < 3000; i++)
		buf_putc(&b, 'y');
	buf_puts(&b, "\",\"fbtrace_id\":\"");
	for (i = 0; i < 200; i++)
		buf_putc(&b, 'T');
	buf_puts(&b, "\",\"type\":\"");
	for (i = 0; i < 200; i++)
		buf_putc(&b, 'Z');
	buf_puts(&b, "\"}}");
	CU_ASSERT_EQUAL(graph_error_parse(400, b.data, b.len, &e), 0);
	/* Cut before the half character, NUL-terminated, in bounds. */
	CU_ASSERT_EQUAL(strlen(e.message), 510);
	CU_ASSERT_EQUAL(strlen(e.fbtrace_id), sizeof(e.fbtrace_id) - 1);
	CU_ASSERT_EQUAL(strlen(e.type), sizeof(e.type) - 1);
	CU_ASSERT_EQUAL(e.code, 100);
	buf_free(&b);
}

/* --- Answers -------------------------------------------------------------- */

static void
test_access_token(void)
{
	struct graph_err e;
	struct buf       t = BUF_INIT;
	long             exp;
	const char      *ok = "{\"access_token\":\"EAAGabc123\","
	                      "\"token_type\":\"bearer\",\"expires_in\":5183944}";
	const char      *bad[] = {
		     "{\"access_token\":12345,\"token_type\":null,\"expires_in\":"
		          "\"soon\"}",
		     "{\"token_type\":\"bearer\"}",
		     "{\"access_token\":\"\"}",
		     "{\"access_token\":\"EAAG abc\"}",
		     "{\"access_token\":\"EAAGabc\",\"expires_in\":\"5400\"}",
		     "{\"access_token\":\"EAAGabc\",\"expires_in\":-1}",
		     "{\"data\": [{\"id\": \"1065403522",
		     "<html><body>Sorry, something went wrong.</body></html>",
		     "[\"EAAG\"]",
	};
	size_t i;

	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_access_token(ok, strlen(ok), &t, &exp, &e),
	    0);
	CU_ASSERT_STRING_EQUAL(buf_str(&t), "EAAGabc123");
	CU_ASSERT_EQUAL(exp, 5183944);
	/* A system-user token: no expires_in, never expires. */
	CU_ASSERT_EQUAL(graph_parse_access_token(
	                    BODY("{\"access_token\":"
	                         "\"EAAGx\",\"token_type\":\"bearer\"}"),
	                    &t, &exp, &e),
	    0);
	CU_ASSERT_STRING_EQUAL(buf_str(&t), "EAAGx");
	CU_ASSERT_EQUAL(exp, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(graph_parse_access_token(bad[i], strlen(bad[i]),
		                    &t, &exp, &e),
		    -1);
		CU_ASSERT_TRUE(e.bad_response);
		CU_ASSERT_FALSE(e.transient);
		CU_ASSERT_EQUAL(t.len, 0);
		CU_ASSERT_EQUAL(exp, 0);
	}
	/* The message names the field. */
	graph_parse_access_token(bad[0], strlen(bad[0]), &t, &exp, &e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "access_token"));
	graph_parse_access_token(bad[4], strlen(bad[4]), &t, &exp, &e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "expires_in"));
	buf_free_secret(&t);
}

static const char debug_ok[] =
    "{\"data\":{\"app_id\":\"1234\",\"type\":\"USER\",\"application\":\"t\","
    "\"data_access_expires_at\":1790000000,\"expires_at\":1780000000,"
    "\"is_valid\":true,\"issued_at\":1770000000,\"scopes\":["
    "\"whatsapp_business_management\",\"whatsapp_business_messaging\","
    "\"business_management\",\"public_profile\"],\"granular_scopes\":["
    "{\"scope\":\"whatsapp_business_management\",\"target_ids\":["
    "\"102290129340398\",\"102290129340399\",\"102290129340398\"]},"
    "{\"scope\":\"whatsapp_business_messaging\",\"target_ids\":["
    "\"102290129340398\",\"555\"]},"
    "{\"scope\":\"business_management\",\"target_ids\":[\"100220012345678\"]},"
    "{\"scope\":\"public_profile\"}],\"user_id\":\"10229870011223344\"}}";

static void
test_token_info(void)
{
	struct graph_token_info ti;
	struct graph_err        e;
	const char             *b;

	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_token_info(debug_ok, strlen(debug_ok), &ti,
	                    &e),
	    0);
	CU_ASSERT_TRUE(ti.is_valid);
	CU_ASSERT_EQUAL(ti.expires_at, 1780000000);
	CU_ASSERT_STRING_EQUAL(ti.scopes,
	    "whatsapp_business_management,"
	    "whatsapp_business_messaging,business_management,public_profile");
	/* Management targets only, de-duplicated, in order. */
	CU_ASSERT_STRING_EQUAL(ti.waba_ids, "102290129340398,102290129340399");
	CU_ASSERT_EQUAL(ti.nwaba, 2);
	CU_ASSERT_EQUAL(ti.error_code, 0);

	/* Revoked: is_valid false with data.error (Meta says "subcode"). */
	b = "{\"data\":{\"app_id\":\"1234\",\"expires_at\":0,\"is_valid\":false,"
	    "\"scopes\":[\"whatsapp_business_management\"],\"error\":{"
	    "\"code\":190,\"message\":\"The session has been invalidated\","
	    "\"subcode\":460}}}";
	CU_ASSERT_EQUAL(graph_parse_token_info(b, strlen(b), &ti, &e), 0);
	CU_ASSERT_FALSE(ti.is_valid);
	CU_ASSERT_EQUAL(ti.expires_at, 0);
	CU_ASSERT_EQUAL(ti.error_code, 190);
	CU_ASSERT_EQUAL(ti.error_subcode, 460);
	CU_ASSERT_STRING_EQUAL(ti.error_message,
	    "The session has been invalidated");
	CU_ASSERT_STRING_EQUAL(ti.waba_ids, "");
	CU_ASSERT_EQUAL(ti.nwaba, 0);

	/* Unknown token: the sandbox's (and Meta's) short form. */
	b = "{\"data\":{\"error\":{\"code\":190,\"message\":\"Invalid OAuth "
	    "access token - Cannot parse access token\"},\"is_valid\":false,"
	    "\"scopes\":[]}}";
	CU_ASSERT_EQUAL(graph_parse_token_info(b, strlen(b), &ti, &e), 0);
	CU_ASSERT_FALSE(ti.is_valid);
	CU_ASSERT_EQUAL(ti.error_code, 190);
	CU_ASSERT_STRING_EQUAL(ti.scopes, "");
}

static void
test_token_info_bad(void)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"data\":{\"is_valid\":\"yes\",\"expires_at\":\"never\","
		  "\"scopes\":\"all\",\"granular_scopes\":{}}}",
		    "data.is_valid" },
		{ "{\"data\":{\"expires_at\":1}}", "data.is_valid" },
		{ "{\"data\":[]}", "data" },
		{ "{}", "data" },
		{ "{\"data\":{\"is_valid\":true,\"expires_at\":\"never\"}}",
		    "data.expires_at" },
		{ "{\"data\":{\"is_valid\":true,\"scopes\":\"all\"}}",
		    "data.scopes" },
		{ "{\"data\":{\"is_valid\":true,\"scopes\":[1]}}",
		    "data.scopes[]" },
		{ "{\"data\":{\"is_valid\":true,\"granular_scopes\":{}}}",
		    "data.granular_scopes" },
		{ "{\"data\":{\"is_valid\":true,\"granular_scopes\":[1]}}",
		    "data.granular_scopes[].scope" },
		{ "{\"data\":{\"is_valid\":true,\"granular_scopes\":[{"
		  "\"scope\":\"whatsapp_business_management\",\"target_ids\":"
		  "\"1\"}]}}",
		    "data.granular_scopes[].target_ids" },
		{ "{\"data\":{\"is_valid\":true,\"granular_scopes\":[{"
		  "\"scope\":\"whatsapp_business_management\",\"target_ids\":"
		  "[102290129340398]}]}}",
		    "data.granular_scopes[].target_ids[]" },
		/* An id that would walk a URL path is not an id. */
		{ "{\"data\":{\"is_valid\":true,\"granular_scopes\":[{"
		  "\"scope\":\"whatsapp_business_management\",\"target_ids\":"
		  "[\"../me\"]}]}}",
		    "data.granular_scopes[].target_ids[]" },
		{ "not json", NULL },
	};
	struct graph_token_info ti;
	struct graph_err        e;
	size_t                  i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(graph_parse_token_info(bad[i].body,
		                    strlen(bad[i].body), &ti, &e),
		    -1);
		CU_ASSERT_TRUE(e.bad_response);
		CU_ASSERT_FALSE(ti.is_valid);
		if (bad[i].field != NULL) {
			char want[128];

			snprintf(want, sizeof(want), "\"%s\"", bad[i].field);
			CU_ASSERT_PTR_NOT_NULL(strstr(e.message, want));
		}
	}
}

static void
test_token_info_overflow(void)
{
	struct graph_token_info ti;
	struct graph_err        e;
	struct buf              b = BUF_INIT;
	int                     i;

	/* 100 distinct 15-digit WABA ids do not fit 1000 bytes: refused,
	   never silently cut (a lost WABA would look like "not shared"). */
	buf_puts(&b,
	    "{\"data\":{\"is_valid\":true,\"granular_scopes\":[{"
	    "\"scope\":\"whatsapp_business_management\",\"target_ids\":[");
	for (i = 0; i < 100; i++)
		buf_printf(&b, "%s\"1022901293%05d\"", i ? "," : "", i);
	buf_puts(&b, "]}]}}");
	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_token_info(b.data, b.len, &ti, &e), -1);
	CU_ASSERT_TRUE(e.bad_response);
	buf_free(&b);
}

static const char phones_p1[] =
    "{\"data\":[{\"verified_name\":\"Demo Merchant\",\"code_verification_"
    "status\":\"NOT_VERIFIED\",\"display_phone_number\":\"+1 555 0100\","
    "\"quality_rating\":\"GREEN\",\"status\":\"CONNECTED\",\"id\":"
    "\"106540352242922\"},{\"display_phone_number\":\"+1 555 0101\","
    "\"id\":\"106540352242923\",\"status\":null}],\"paging\":{\"cursors\":"
    "{\"before\":\"MA==\",\"after\":\"MQ==\"},\"next\":\"https://graph."
    "facebook.com/v25.0/102290129340398/phone_numbers?after=MQ%3D%3D\"}}";

static void
test_phones(void)
{
	struct graph_phone *l = NULL;
	struct graph_err    e;
	size_t              n = 0;
	char                after[GRAPH_CURSOR_MAX];
	const char         *last =
	    "{\"data\":[{\"id\":\"106540352242924\","
	    "\"display_phone_number\":\"+1 555 0102\"}],\"paging\":{"
	    "\"cursors\":{\"before\":\"Mg==\",\"after\":\"Mg==\"}}}";

	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_phones(phones_p1, strlen(phones_p1), &l, &n,
	                    after, &e),
	    0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(after, "MQ==");
	CU_ASSERT_STRING_EQUAL(l[0].id, "106540352242922");
	CU_ASSERT_STRING_EQUAL(l[0].display_phone_number, "+1 555 0100");
	CU_ASSERT_STRING_EQUAL(l[0].verified_name, "Demo Merchant");
	CU_ASSERT_STRING_EQUAL(l[0].quality_rating, "GREEN");
	CU_ASSERT_STRING_EQUAL(l[0].status, "CONNECTED");
	CU_ASSERT_STRING_EQUAL(l[0].code_verification_status, "NOT_VERIFIED");
	CU_ASSERT_STRING_EQUAL(l[1].status, ""); /* null is absent */
	CU_ASSERT_STRING_EQUAL(l[1].verified_name, "");
	/* The last page (no "next") appends and ends the walk. */
	CU_ASSERT_EQUAL(graph_parse_phones(last, strlen(last), &l, &n, after,
	                    &e),
	    0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(after, "");
	CU_ASSERT_STRING_EQUAL(l[2].id, "106540352242924");
	/* An empty WABA. */
	CU_ASSERT_EQUAL(graph_parse_phones(BODY("{\"data\":[]}"), &l, &n, after,
	                    &e),
	    0);
	CU_ASSERT_EQUAL(n, 3);
	free(l);
}

static void
test_phones_bad(void)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"data\":{\"id\":106540352242922},\"paging\":[]}", "data" },
		{ "{\"paging\":{}}", "data" },
		{ "{\"data\":[1]}", "data[]" },
		{ "{\"data\":[{\"display_phone_number\":\"+1\"}]}",
		    "data[].id" },
		{ "{\"data\":[{\"id\":106540352242922,\"display_phone_number\":"
		  "\"+1\"}]}",
		    "data[].id" },
		{ "{\"data\":[{\"id\":\"1/../me\",\"display_phone_number\":"
		  "\"+1\"}]}",
		    "data[].id" },
		{ "{\"data\":[{\"id\":\"1\"}]}",
		    "data[].display_phone_number" },
		{ "{\"data\":[{\"id\":\"1\",\"display_phone_number\":\"+1\","
		  "\"quality_rating\":3}]}",
		    "data[].quality_rating" },
		{ "{\"data\":[],\"paging\":[]}", "paging" },
		{ "{\"data\":[],\"paging\":{\"next\":\"https://x\"}}",
		    "paging.cursors.after" },
		{ "{\"data\":[],\"paging\":{\"next\":\"https://x\",\"cursors\":"
		  "{\"after\":7}}}",
		    "paging.cursors.after" },
		{ "{\"data\": [{\"id\": \"1065403522", NULL },
	};
	struct graph_phone *l = NULL;
	struct graph_err    e;
	size_t              i, n;
	char                after[GRAPH_CURSOR_MAX], want[128];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		n = 0;
		CU_ASSERT_EQUAL(graph_parse_phones(bad[i].body,
		                    strlen(bad[i].body), &l, &n, after, &e),
		    -1);
		CU_ASSERT_TRUE(e.bad_response);
		if (bad[i].field != NULL) {
			snprintf(want, sizeof(want), "\"%s\"", bad[i].field);
			CU_ASSERT_PTR_NOT_NULL(strstr(e.message, want));
		}
		free(l);
		l = NULL;
	}
}

static void
test_phones_cap(void)
{
	struct graph_phone *l = NULL;
	struct graph_err    e;
	struct buf          b = BUF_INIT;
	size_t              n = 0;
	char                after[GRAPH_CURSOR_MAX];
	int                 i;

	/* 250 numbers with a "next": capped at 200, and no further page. */
	buf_puts(&b, "{\"data\":[");
	for (i = 0; i < 250; i++)
		buf_printf(&b,
		    "%s{\"id\":\"%d\",\"display_phone_number\":"
		    "\"+%d\"}",
		    i ? "," : "", 1000 + i, i);
	buf_puts(&b,
	    "],\"paging\":{\"cursors\":{\"after\":\"x\"},\"next\":"
	    "\"https://x\"}}");
	CU_ASSERT_EQUAL(graph_parse_phones(b.data, b.len, &l, &n, after, &e),
	    0);
	CU_ASSERT_EQUAL(n, GRAPH_PHONES_MAX);
	CU_ASSERT_STRING_EQUAL(after, "");
	CU_ASSERT_STRING_EQUAL(l[199].id, "1199");
	free(l);
	buf_free(&b);
}

static void
test_phone_single(void)
{
	struct graph_phone p;
	struct graph_err   e;
	struct buf         b = BUF_INIT;
	const char        *ok =
	    "{\"verified_name\":\"Caf\xc3\xa9\","
	    "\"display_phone_number\":\"+1 555 0100\",\"id\":\"106540352242922\""
	    ",\"quality_rating\":\"GREEN\",\"platform_type\":\"CLOUD_API\","
	    "\"throughput\":{\"level\":\"STANDARD\"}}";
	int i;

	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_phone(ok, strlen(ok), &p, &e), 0);
	CU_ASSERT_STRING_EQUAL(p.id, "106540352242922");
	CU_ASSERT_STRING_EQUAL(p.verified_name, "Caf\xc3\xa9");
	CU_ASSERT_STRING_EQUAL(p.status, "");
	CU_ASSERT_EQUAL(graph_parse_phone(BODY("[]"), &p, &e), -1);
	CU_ASSERT_TRUE(e.bad_response);
	/* A verified_name longer than we keep is cut on a character. */
	buf_puts(&b,
	    "{\"id\":\"1\",\"display_phone_number\":\"+1\","
	    "\"verified_name\":\"");
	for (i = 0; i < 199; i++)
		buf_putc(&b, 'n');
	buf_puts(&b, "\xc3\xa9\"}");
	CU_ASSERT_EQUAL(graph_parse_phone(b.data, b.len, &p, &e), 0);
	CU_ASSERT_EQUAL(strlen(p.verified_name), 199);
	/* An id too long for our field is refused, not cut. */
	buf_reset(&b);
	buf_puts(&b, "{\"id\":\"");
	for (i = 0; i < 40; i++)
		buf_putc(&b, '1');
	buf_puts(&b, "\",\"display_phone_number\":\"+1\"}");
	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_phone(b.data, b.len, &p, &e), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "\"id\""));
	buf_free(&b);
}

static void
test_message_id(void)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{ "{\"messaging_product\":\"whatsapp\",\"messages\":\"wamid.x\","
		  "\"contacts\":{}}",
		    "messages" },
		{ "{\"messages\":[]}", "messages" },
		{ "{\"contacts\":[]}", "messages" },
		{ "{\"messages\":[\"wamid.x\"]}", "messages[0].id" },
		{ "{\"messages\":[{\"id\":42}]}", "messages[0].id" },
		{ "{\"messages\":[{\"id\":\"\"}]}", "messages[0].id" },
		{ "{\"messages\":[{}]}", "messages[0].id" },
	};
	struct graph_err e;
	struct buf       b = BUF_INIT;
	char             id[256], want[64];
	const char      *ok =
	    "{\"messaging_product\":\"whatsapp\","
	    "\"contacts\":[{\"input\":\"+16505551234\",\"wa_id\":"
	    "\"16505551234\"}],\"messages\":[{\"id\":\"wamid.HBgLMTY1MDUwNzY1"
	    "MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA\"}]}";
	size_t i;

	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_message_id(ok, strlen(ok), id, &e), 0);
	CU_ASSERT_STRING_EQUAL(id,
	    "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVC"
	    "M0Q0Q0Q2RTY3RTcA");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(graph_parse_message_id(bad[i].body,
		                    strlen(bad[i].body), id, &e),
		    -1);
		CU_ASSERT_TRUE(e.bad_response);
		CU_ASSERT_STRING_EQUAL(id, "");
		snprintf(want, sizeof(want), "\"%s\"", bad[i].field);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.message, want));
	}
	/* An id longer than 255 bytes is refused, not cut. */
	buf_puts(&b, "{\"messages\":[{\"id\":\"wamid.");
	for (i = 0; i < 300; i++)
		buf_putc(&b, 'A');
	buf_puts(&b, "\"}]}");
	CU_ASSERT_EQUAL(graph_parse_message_id(b.data, b.len, id, &e), -1);
	buf_free(&b);
}

static void
test_success_and_catalog(void)
{
	struct graph_err e;
	char             name[201];

	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_success(BODY("{\"success\":true}"), &e), 0);
	CU_ASSERT_EQUAL(graph_parse_success(BODY("{\"success\":false}"), &e),
	    -1);
	CU_ASSERT_TRUE(e.bad_response);
	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(
	    graph_parse_success(BODY("{\"success\":\"true\","
	                             "\"id\":42,\"data\":\"unexpected\"}"),
	        &e),
	    -1);
	CU_ASSERT_TRUE(e.bad_response);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "\"success\""));
	CU_ASSERT_EQUAL(graph_parse_success("", 0, &e), -1);
	CU_ASSERT_EQUAL(graph_parse_success(BODY("{\"success\":true"), &e), -1);

	CU_ASSERT_EQUAL(
	    graph_parse_catalog(BODY("{\"id\":\"880011223344556\","
	                             "\"name\":\"Demo Merchant Products\"}"),
	        name, &e),
	    0);
	CU_ASSERT_STRING_EQUAL(name, "Demo Merchant Products");
	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_catalog(BODY("{\"id\":\"1\",\"name\":7}"),
	                    name, &e),
	    -1);
	CU_ASSERT_TRUE(e.bad_response);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "\"name\""));
}

/* smb_app_data's answer: the request id, refused when odd, never cut. */
static void
test_request_id(void)
{
	static const char *const bad[] = {
		"{\"messaging_product\":\"whatsapp\"}",
		"{\"request_id\":42}",
		"{\"request_id\":\"\"}",
		"{\"request_id\":\"a b\"}",
		"{\"request_id\":\"../x\"}",
		"[\"request_id\"]",
	};
	struct graph_err e;
	struct buf       b = BUF_INIT;
	char             rid[GRAPH_REQUEST_ID_MAX];
	size_t           i;

	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(graph_parse_request_id(
	                    BODY("{\"messaging_product\":"
	                         "\"whatsapp\",\"request_id\":"
	                         "\"9c1f0e2d3b4a59687766554433221100\"}"),
	                    rid, &e),
	    0);
	CU_ASSERT_STRING_EQUAL(rid, "9c1f0e2d3b4a59687766554433221100");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(graph_parse_request_id(bad[i], strlen(bad[i]),
		                    rid, &e),
		    -1);
		CU_ASSERT_TRUE(e.bad_response);
		CU_ASSERT_STRING_EQUAL(rid, "");
	}
	buf_puts(&b, "{\"request_id\":\"");
	for (i = 0; i < GRAPH_REQUEST_ID_MAX; i++)
		buf_putc(&b, 'a');
	buf_puts(&b, "\"}");
	CU_ASSERT_EQUAL(graph_parse_request_id(b.data, b.len, rid, &e), -1);
	CU_ASSERT_STRING_EQUAL(rid, "");
	buf_free(&b);
}

static void
test_text_json(void)
{
	char *j;

	j = graph_json_text_message("16505551234",
	    "He said \"hi\"\n\\ </script> caf\xc3\xa9");
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(j,
	    "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"16505551234\","
	    "\"type\":\"text\",\"text\":{\"body\":\"He said \\\"hi\\\"\\n"
	    "\\\\ </script> caf\xc3\xa9\"}}");
	free(j);
	CU_ASSERT_PTR_NULL(graph_json_text_message(NULL, "x"));
}

/* Meta, "Health Status", "Webhook overrides", "Messaging limits". */
static void
test_phone_health(void)
{
	static const char body[] =
	    "{\"id\":\"106540352242922\",\"display_phone_number\":\"+1 555 0100\","
	    "\"quality_rating\":\"YELLOW\",\"status\":\"CONNECTED\","
	    "\"name_status\":\"APPROVED\",\"code_verification_status\":\"VERIFIED\","
	    "\"whatsapp_business_manager_messaging_limit\":\"TIER_2K\","
	    "\"throughput\":{\"level\":\"STANDARD\"},"
	    "\"health_status\":{\"can_send_message\":\"BLOCKED\",\"entities\":["
	    "{\"entity_type\":\"PHONE_NUMBER\",\"id\":\"106540352242922\","
	    "\"can_send_message\":\"AVAILABLE\"},"
	    "{\"entity_type\":\"WABA\",\"id\":\"102290129340398\","
	    "\"can_send_message\":\"BLOCKED\",\"errors\":[{\"error_code\":141006,"
	    "\"error_description\":\"There is an error with the payment "
	    "method.\",\"possible_solution\":\"Add a new payment method.\"}]},"
	    "\"junk\",{\"entity_type\":\"APP\",\"errors\":[7]}]},"
	    "\"webhook_configuration\":{\"application\":\"https://a.example/h\","
	    "\"whatsapp_business_account\":\"https://w.example/h\"}}";
	struct graph_phone_health h;
	struct graph_err          e;

	CU_ASSERT_EQUAL_FATAL(graph_parse_phone_health(body, strlen(body), &h,
	                          &e),
	    0);
	CU_ASSERT_STRING_EQUAL(h.phone.id, "106540352242922");
	CU_ASSERT_STRING_EQUAL(h.phone.quality_rating, "YELLOW");
	CU_ASSERT_STRING_EQUAL(h.messaging_limit, "TIER_2K");
	CU_ASSERT_STRING_EQUAL(h.throughput, "STANDARD");
	CU_ASSERT_STRING_EQUAL(h.can_send, "BLOCKED");
	CU_ASSERT_EQUAL_FATAL(h.nerrors, 1);
	CU_ASSERT_STRING_EQUAL(h.errors[0].entity, "WABA");
	CU_ASSERT_EQUAL(h.errors[0].code, 141006);
	CU_ASSERT_STRING_EQUAL(h.errors[0].solution,
	    "Add a new payment method.");
	CU_ASSERT_TRUE(h.has_hooks);
	/* The WABA's override comes before the app's callback. */
	CU_ASSERT_STRING_EQUAL(graph_hook_effective(&h), "https://w.example/h");
}

static void
test_phone_health_old_and_bad(void)
{
	static const char old[] =
	    "{\"id\":\"1\",\"display_phone_number\":\"+1\","
	    "\"messaging_limit_tier\":\"TIER_1K\"}";
	static const char *const bad[] = {
		"{\"id\":\"1\",\"display_phone_number\":\"+1\",\"health_status\":[]}",
		"{\"id\":\"1\",\"display_phone_number\":\"+1\",\"throughput\":1}",
		"{\"id\":\"1\",\"display_phone_number\":\"+1\","
		"\"webhook_configuration\":{\"application\":5}}",
		"{\"id\":\"1\",\"display_phone_number\":\"+1\","
		"\"health_status\":{\"entities\":{}}}",
		"{\"display_phone_number\":\"+1\"}",
		"[]",
	};
	struct graph_phone_health h;
	struct graph_err          e;
	size_t                    i;

	CU_ASSERT_EQUAL_FATAL(graph_parse_phone_health(old, strlen(old), &h,
	                          &e),
	    0);
	/* Before whatsapp_business_manager_messaging_limit: the tier. */
	CU_ASSERT_STRING_EQUAL(h.messaging_limit, "TIER_1K");
	CU_ASSERT_STRING_EQUAL(h.can_send, "");
	CU_ASSERT_FALSE(h.has_hooks);
	CU_ASSERT_STRING_EQUAL(graph_hook_effective(&h), "");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(graph_parse_phone_health(bad[i], strlen(bad[i]),
		                    &h, &e),
		    -1);
		CU_ASSERT_TRUE(e.bad_response);
	}
}

static void
test_subscribed(void)
{
	static const char yes[] =
	    "{\"data\":[{\"whatsapp_business_api_data\":{\"id\":\"99\","
	    "\"name\":\"x\"}},\"junk\",{\"whatsapp_business_api_data\":{"
	    "\"id\":\"1234567890123456\",\"link\":\"l\",\"name\":\"ours\"},"
	    "\"override_callback_uri\":\"https://o.example\"}]}";
	static const char no[] =
	    "{\"data\":[{\"whatsapp_business_api_data\":{\"id\":\"99\"}}]}";
	struct graph_err e;
	int              sub;

	CU_ASSERT_EQUAL(graph_parse_subscribed(yes, strlen(yes),
	                    "1234567890123456", &sub, &e),
	    0);
	CU_ASSERT_TRUE(sub);
	CU_ASSERT_EQUAL(graph_parse_subscribed(no, strlen(no),
	                    "1234567890123456", &sub, &e),
	    0);
	CU_ASSERT_FALSE(sub);
	CU_ASSERT_EQUAL(graph_parse_subscribed("{\"data\":[]}", 11,
	                    "1234567890123456", &sub, &e),
	    0);
	CU_ASSERT_FALSE(sub);
	CU_ASSERT_EQUAL(graph_parse_subscribed("{}", 2, "1", &sub, &e), -1);
	CU_ASSERT_TRUE(e.bad_response);
	CU_ASSERT_EQUAL(graph_parse_subscribed("{\"data\":{}}", 11, "1", &sub,
	                    &e),
	    -1);
}

/* --- a send lost with the connection, then no server --------------- */

/* Reads one request (headers, then Content-Length bytes); 0 at EOF. */
static int
srv_read_request(int fd)
{
	char    b[8192], *end, *cl;
	size_t  n = 0;
	ssize_t r;
	long    len;

	for (;;) {
		if (n == sizeof(b) - 1)
			return -1;
		if ((r = read(fd, b + n, sizeof(b) - 1 - n)) <= 0)
			return 0;
		n += (size_t)r;
		b[n] = '\0';
		if ((end = strstr(b, "\r\n\r\n")) != NULL)
			break;
	}
	len = (cl = strstr(b, "Content-Length: ")) != NULL ? atol(cl + 16) : 0;
	for (n -= (size_t)(end + 4 - b); (long)n < len; n += (size_t)r)
		if ((r = read(fd, b, sizeof(b))) <= 0)
			return -1;
	return 1;
}

/*
 * Answers the first request on a kept-alive connection, reads the
 * second and then closes the connection and its listening socket
 * without a byte of answer: the second send reached "Meta", and
 * libcurl's resend on a fresh connection is refused. Exits with the
 * number of requests it read.
 */
static void
srv_lost_then_refused(int ls)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\n"
	                         "Content-Type: application/json\r\n"
	                         "Content-Length: 67\r\n\r\n"
	                         "{\"messaging_product\":\"whatsapp\","
	                         "\"messages\":[{\"id\":\"wamid.ONE000\"}]}";
	int               n = 0, fd;

	alarm(30); /* never outlives a parent that gave up */
	if ((fd = accept(ls, NULL, NULL)) == -1)
		_exit(100);
	if (srv_read_request(fd) == 1) {
		n++;
		if (write(fd, ok, sizeof(ok) - 1) != (ssize_t)sizeof(ok) - 1)
			_exit(101);
	}
	if (srv_read_request(fd) == 1)
		n++;
	close(ls);
	close(fd);
	_exit(n);
}

static void
test_lost_then_refused(void)
{
	struct sockaddr_in sa;
	socklen_t          sl = sizeof(sa);
	struct config      cfg;
	struct graph      *g;
	struct graph_err   e;
	char               base[64], wamid[256];
	int                ls, st, one = 1;
	pid_t              pid;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL((ls = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CU_ASSERT_FATAL(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(ls, 4) == 0);
	CU_ASSERT_FATAL(getsockname(ls, (struct sockaddr *)&sa, &sl) == 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u",
	    (unsigned)ntohs(sa.sin_port));
	CU_ASSERT_FATAL((pid = fork()) != -1);
	if (pid == 0)
		srv_lost_then_refused(ls);
	close(ls);

	memset(&cfg, 0, sizeof(cfg));
	cfg.graph_base_url = base;
	cfg.graph_version = "v25.0";
	cfg.app_id = "1234";
	cfg.app_secret = "s3cret";
	cfg.connect_timeout_ms = 2000;
	cfg.timeout_ms = 5000;
	cfg.max_retries = 2; /* a retry would be allowed if "unsent" */
	cfg.request_budget_ms = 10000;
	CU_ASSERT_FATAL((g = graph_new(&cfg)) != NULL);
	graph_budget_start(g);
	CU_ASSERT_EQUAL(graph_send_text(g, "EAAtoken", "1001", "15550001111",
	                    "first", wamid, &e),
	    0);
	CU_ASSERT_STRING_EQUAL(wamid, "wamid.ONE000");
	/* The second request is read by the server, the resend refused:
	   the message may have been sent, and that is what we say. */
	CU_ASSERT_EQUAL(graph_send_text(g, "EAAtoken", "1001", "15550001111",
	                    "second", wamid, &e),
	    -1);
	CU_ASSERT_TRUE(e.maybe_done);
	CU_ASSERT_TRUE(e.network);
	graph_budget_end(g);
	graph_free(g);
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	CU_ASSERT_TRUE(WIFEXITED(st));
	CU_ASSERT_EQUAL(WEXITSTATUS(st), 2);
}

static const struct ut_test tests[] = { { "appsecret_proof", test_proof },
	{ "url basic", test_url_basic }, { "url escaping", test_url_escaping },
	{ "url prefix", test_url_prefix }, { "url rejects", test_url_rejects },
	{ "error 190", test_err_190 },
	{ "error rate limits", test_err_rate_limits },
	{ "error rejected", test_err_rejected },
	{ "error not transient", test_err_not_transient },
	{ "error whatsapp", test_err_whatsapp },
	{ "error is_transient", test_err_is_transient_flag },
	{ "error no object", test_err_no_object },
	{ "error wrong types", test_err_wrong_types },
	{ "error long fields", test_err_long_fields },
	{ "access_token", test_access_token },
	{ "token info", test_token_info },
	{ "token info bad", test_token_info_bad },
	{ "token info overflow", test_token_info_overflow },
	{ "phones", test_phones }, { "phones bad", test_phones_bad },
	{ "phones cap", test_phones_cap }, { "phone", test_phone_single },
	{ "message id", test_message_id },
	{ "success and catalog", test_success_and_catalog },
	{ "request id", test_request_id },
	{ "text message json", test_text_json },
	{ "request budget", test_budget },
	{ "trace header", test_trace_header },
	{ "bearer header", test_bearer_header },
	{ "form encode", test_form_encode },
	{ "phone health", test_phone_health },
	{ "phone health old and bad", test_phone_health_old_and_bad },
	{ "subscribed apps", test_subscribed },
	{ "send lost, resend refused", test_lost_then_refused },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "graph", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
