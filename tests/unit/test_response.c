/*
 * response: the status line, the security headers on every answer, the
 * refusal of header splitting, redirects. resp_send writes into a
 * FastCGI stream kept in memory (libfcgi's FCGX_Stream is a public
 * struct with a flush callback), so what a browser would get is read back
 * byte for byte.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <fcgiapp.h>

#include "../../src/buf.h"
#include "../../src/response.h"
#include "harness.h"

/* A small window, so long answers go through the flush callback. */
struct memout {
	FCGX_Stream   s;
	unsigned char win[128];
	struct buf    got;
};

static void
mem_flush(FCGX_Stream *s, int close)
{
	struct memout *m = s->data;

	(void)close;
	buf_append(&m->got, m->win, (size_t)(s->wrNext - m->win));
	s->wrNext = m->win;
}

static void
mem_open(struct memout *m)
{
	memset(m, 0, sizeof(*m));
	m->s.wrNext = m->s.rdNext = m->s.stopUnget = m->win;
	m->s.stop = m->win + sizeof(m->win);
	m->s.emptyBuffProc = mem_flush;
	m->s.data = m;
}

/* Sends r and returns what went out (owned by m). */
static const char *
sent(struct resp *r, struct memout *m, int head_only)
{
	mem_open(m);
	CU_ASSERT_EQUAL(resp_send(r, &m->s, head_only), 0);
	mem_flush(&m->s, 1);
	return buf_str(&m->got);
}

static const char *const security[] = {
	"\r\nContent-Security-Policy: default-src 'none'; style-src 'self'; "
	"img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
	"base-uri 'none'\r\n",
	"\r\nX-Frame-Options: DENY\r\n",
	"\r\nX-Content-Type-Options: nosniff\r\n",
	"\r\nReferrer-Policy: no-referrer\r\n",
	"\r\nCache-Control: no-store\r\n",
};

static void
test_reason(void)
{
	static const struct {
		int         status;
		const char *want;
	} t[] = {
		{ 200, "OK" },
		{ 302, "Found" },
		{ 303, "See Other" },
		{ 400, "Bad Request" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 429, "Too Many Requests" },
		{ 500, "Internal Server Error" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 418, "Unknown" },
		{ 0, "Unknown" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("status %d", t[i].status);
		UT_EQ_STR(resp_reason(t[i].status), t[i].want);
	}
}

/* No name or value may end the header early: no response splitting. */
static void
test_header_refused(void)
{
	static const struct {
		const char *name, *value;
		int         want;
	} t[] = {
		{ "X-Ok", "plain value", 0 },
		{ "X-Ok", "", 0 },
		{ "X-Ok", "a: b", 0 },
		{ "X-Bad", "a\r\nSet-Cookie: x=1", -1 },
		{ "X-Bad", "a\nb", -1 },
		{ "X-Bad", "a\rb", -1 },
		{ "X-Bad\r\nX-Evil", "v", -1 },
		{ "X-Bad\n", "v", -1 },
		{ "X-Bad: y", "v", -1 },
	};
	struct resp r;
	struct buf  want = BUF_INIT;
	size_t      i;

	resp_init(&r);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%zu: %s", i, t[i].name);
		UT_EQ_INT(resp_header(&r, t[i].name, t[i].value), t[i].want);
		if (t[i].want == 0)
			buf_printf(&want, "%s: %s\r\n", t[i].name, t[i].value);
		/* A refused header leaves no trace. */
		UT_EQ_STR(buf_str(&r.headers), buf_str(&want));
	}
	resp_free(&r);
	buf_free(&want);
}

static void
test_init_text_redirect(void)
{
	struct resp r;

	resp_init(&r);
	UT_EQ_INT(r.status, 200);
	UT_EQ_STR(r.ctype, "text/html; charset=utf-8");
	buf_puts(&r.body, "<p>half a page</p>");
	CU_ASSERT_EQUAL(resp_text(&r, 429, "slow down\n"), 0);
	UT_EQ_INT(r.status, 429);
	UT_EQ_STR(r.ctype, "text/plain; charset=utf-8");
	UT_EQ_STR(buf_str(&r.body), "slow down\n");

	CU_ASSERT_EQUAL(resp_redirect(&r, 303, "/w/acme/settings"), 0);
	UT_EQ_INT(r.status, 303);
	UT_EQ_UINT(r.body.len, 0);
	UT_EQ_STR(buf_str(&r.headers), "Location: /w/acme/settings\r\n");
	/* A Location that would split the answer is refused. */
	UT_EQ_INT(resp_redirect(&r, 302, "/x\r\nSet-Cookie: a=b"), -1);
	UT_EQ_STR(buf_str(&r.headers), "Location: /w/acme/settings\r\n");

	resp_reset(&r);
	UT_EQ_INT(r.status, 200);
	UT_EQ_STR(r.ctype, "text/html; charset=utf-8");
	UT_EQ_UINT(r.headers.len, 0);
	UT_EQ_UINT(r.body.len, 0);
	resp_free(&r);
}

/* Every answer, whatever its status, starts with its status line and
 * carries every security header, then ours, then the body. */
static void
test_send(void)
{
	static const struct {
		int         status;
		const char *line;
	} t[] = {
		{ 200, "Status: 200 OK\r\n" },
		{ 303, "Status: 303 See Other\r\n" },
		{ 404, "Status: 404 Not Found\r\n" },
		{ 500, "Status: 500 Internal Server Error\r\n" },
		{ 299, "Status: 299 Unknown\r\n" },
	};
	struct memout m;
	struct resp   r;
	const char   *out, *end;
	char          body[700], want[64];
	size_t        i, k;

	memset(body, 'b', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("status %d", t[i].status);
		resp_init(&r);
		r.status = t[i].status;
		buf_puts(&r.body, body);
		resp_header(&r, "Set-Cookie", "a=b; Path=/");
		out = sent(&r, &m, 0);
		CU_ASSERT(strncmp(out, t[i].line, strlen(t[i].line)) == 0);
		UT_HAS_STR(out,
		    "\r\nContent-Type: text/html; charset=utf-8\r\n");
		snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n",
		    strlen(body));
		UT_HAS_STR(out, want);
		for (k = 0; k < sizeof(security) / sizeof(security[0]); k++)
			UT_HAS_STR(out, security[k]);
		/* Our header last, then the blank line, then the body. */
		end = strstr(out, "\r\n\r\n");
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		UT_HAS_STR(out, "no-store\r\nSet-Cookie: a=b; Path=/\r\n\r\n");
		UT_EQ_STR(end + 4, body);
		buf_free(&m.got);

		/* HEAD: the same headers, the length of the body, no body. */
		out = sent(&r, &m, 1);
		UT_HAS_STR(out, want);
		end = strstr(out, "\r\n\r\n");
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		UT_EQ_STR(end + 4, "");
		buf_free(&m.got);
		resp_free(&r);
	}
}

/* A redirect with an empty body still has every header. */
static void
test_send_redirect(void)
{
	struct memout m;
	struct resp   r;
	const char   *out;
	size_t        k;

	resp_init(&r);
	resp_redirect(&r, 303, "/login");
	out = sent(&r, &m, 0);
	UT_HAS_STR(out, "Status: 303 See Other\r\n");
	UT_HAS_STR(out, "\r\nContent-Length: 0\r\n");
	for (k = 0; k < sizeof(security) / sizeof(security[0]); k++)
		UT_HAS_STR(out, security[k]);
	UT_HAS_STR(out, "\r\nLocation: /login\r\n\r\n");
	buf_free(&m.got);
	resp_free(&r);
}

/* The origins a form may post to widen form-action, and only it. */
static void
test_form_origins(void)
{
	struct memout m;
	struct resp   r;
	const char   *out;

	resp_init(&r);
	resp_set_form_origins("https://www.facebook.com");
	out = sent(&r, &m, 0);
	UT_HAS_STR(out,
	    "; form-action 'self' https://www.facebook.com; "
	    "frame-ancestors 'none'; ");
	buf_free(&m.got);
	resp_set_form_origins("");
	out = sent(&r, &m, 0);
	UT_HAS_STR(out, security[0]);
	buf_free(&m.got);
	resp_free(&r);
}

/*
 * The SDK's origin reaches script-src, connect-src and frame-src only on
 * an answer that asks for it; every other answer, even after one that
 * did, still has no script source at all.
 */
static void
test_sdk_origins(void)
{
	struct memout m;
	struct resp   r;
	const char   *out;

	resp_set_sdk_origins("https://connect.facebook.net",
	    "https://www.facebook.com");
	resp_init(&r);
	out = sent(&r, &m, 0);
	UT_HAS_STR(out, security[0]);
	CU_ASSERT_PTR_NULL(strstr(out, "script-src"));
	CU_ASSERT_PTR_NULL(strstr(out, "connect.facebook.net"));
	buf_free(&m.got);

	r.allow_sdk = 1;
	out = sent(&r, &m, 0);
	UT_HAS_STR(out,
	    "Content-Security-Policy: default-src 'none'; "
	    "style-src 'self'; img-src 'self'; form-action 'self'; "
	    "script-src 'self' https://connect.facebook.net; "
	    "connect-src 'self' https://connect.facebook.net; "
	    "frame-src https://connect.facebook.net https://www.facebook.com; "
	    "frame-ancestors 'none'; base-uri 'none'\r\n");
	buf_free(&m.got);

	/* An error page replacing it forgets the SDK with the rest. */
	resp_reset(&r);
	out = sent(&r, &m, 0);
	UT_HAS_STR(out, security[0]);
	CU_ASSERT_PTR_NULL(strstr(out, "script-src"));
	buf_free(&m.got);
	resp_free(&r);
	resp_set_sdk_origins("", "");
}

/* A stream the server closed: resp_send says so. */
static void
test_send_closed(void)
{
	struct memout m;
	struct resp   r;

	resp_init(&r);
	mem_open(&m);
	m.s.isClosed = 1;
	UT_EQ_INT(resp_send(&r, &m.s, 0), -1);
	buf_free(&m.got);
	resp_free(&r);
}

static const struct ut_test tests[] = { { "reason phrases", test_reason },
	{ "header splitting refused", test_header_refused },
	{ "init, text, redirect, reset", test_init_text_redirect },
	{ "send: status line and security headers", test_send },
	{ "send: redirect", test_send_redirect },
	{ "send: form origins", test_form_origins },
	{ "send: SDK origins on one page only", test_sdk_origins },
	{ "send: closed stream", test_send_closed }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "response", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
