/* Form, query string and cookie parsing: the edge every request crosses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <fcgiapp.h>

#include "../../src/buf.h"
#include "../../src/request.h"
#include "harness.h"

static enum req_err
parse(const char *s, struct kvlist *l)
{
	char why[128];

	memset(l, 0, sizeof(*l));
	return req_parse_urlencoded(s, strlen(s), l, why, sizeof(why));
}

static void
test_simple_pairs(void)
{
	struct kvlist l;

	CU_ASSERT_EQUAL(parse("a=1&b=two+words&c=%C3%A9t%C3%A9", &l), REQ_OK);
	CU_ASSERT_EQUAL(l.n, 3);
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "a"), "1");
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "b"), "two words");
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "c"), "\xc3\xa9t\xc3\xa9");
	CU_ASSERT_PTR_NULL(kv_get(&l, "d"));
	kv_free(&l);
}

static void
test_empty_and_valueless(void)
{
	struct kvlist l;

	CU_ASSERT_EQUAL(parse("", &l), REQ_OK);
	CU_ASSERT_EQUAL(l.n, 0);
	CU_ASSERT_EQUAL(parse("&&a&b=&&", &l), REQ_OK);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "a"), "");
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "b"), "");
	kv_free(&l);
	CU_ASSERT_EQUAL(parse("=value", &l), REQ_BAD_FIELDS);
	CU_ASSERT_EQUAL(l.n, 0);
}

static void
test_malformed_percent(void)
{
	struct kvlist l;

	CU_ASSERT_EQUAL(parse("a=%", &l), REQ_BAD_ENCODING);
	CU_ASSERT_EQUAL(parse("a=%4", &l), REQ_BAD_ENCODING);
	CU_ASSERT_EQUAL(parse("a=%zz", &l), REQ_BAD_ENCODING);
	CU_ASSERT_EQUAL(parse("a=%g1", &l), REQ_BAD_ENCODING);
	CU_ASSERT_EQUAL(parse("%=1", &l), REQ_BAD_ENCODING);
	CU_ASSERT_EQUAL(parse("a=100%25", &l), REQ_OK);
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "a"), "100%");
	kv_free(&l);
}

static void
test_embedded_nul(void)
{
	struct kvlist l;
	const char    raw[] = "a=x\0y";

	CU_ASSERT_EQUAL(parse("a=x%00y", &l), REQ_BAD_ENCODING);
	CU_ASSERT_EQUAL(parse("a%00b=1", &l), REQ_BAD_ENCODING);
	memset(&l, 0, sizeof(l));
	{
		char why[64];
		CU_ASSERT_EQUAL(req_parse_urlencoded(raw, sizeof(raw) - 1, &l,
		                    why, sizeof(why)),
		    REQ_BAD_ENCODING);
	}
}

static void
test_bad_utf8(void)
{
	static const struct {
		const char  *in;
		enum req_err want;
	} t[] = {
		{ "a=%C3", REQ_BAD_ENCODING },          /* truncated */
		{ "a=%C0%AF", REQ_BAD_ENCODING },       /* overlong '/' */
		{ "a=%ED%A0%80", REQ_BAD_ENCODING },    /* surrogate */
		{ "a=%F4%90%80%80", REQ_BAD_ENCODING }, /* > U+10FFFF */
		{ "a=%FF", REQ_BAD_ENCODING },
		{ "a=%01", REQ_BAD_ENCODING }, /* control */
		{ "a=%F0%9F%98%80", REQ_OK },  /* emoji ok */
	};
	struct kvlist l;
	size_t        i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s", t[i].in);
		UT_EQ_INT(parse(t[i].in, &l), t[i].want);
		kv_free(&l);
	}
}

static void
test_duplicates_refused(void)
{
	struct kvlist l;
	char          why[128];

	memset(&l, 0, sizeof(l));
	CU_ASSERT_EQUAL(req_parse_urlencoded("a=1&a=2", 7, &l, why,
	                    sizeof(why)),
	    REQ_BAD_FIELDS);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "twice"));
	CU_ASSERT_EQUAL(l.n, 0);
	/* Same key once encoded and once not is still a duplicate. */
	CU_ASSERT_EQUAL(parse("ab=1&a%62=2", &l), REQ_BAD_FIELDS);
}

static void
test_overlong(void)
{
	struct kvlist l;
	struct buf    b = BUF_INIT;
	int           i;

	/* Key longer than REQ_MAX_KEY. */
	for (i = 0; i < REQ_MAX_KEY + 1; i++)
		buf_putc(&b, 'k');
	buf_puts(&b, "=1");
	CU_ASSERT_EQUAL(parse(b.data, &l), REQ_BAD_FIELDS);
	buf_reset(&b);
	/* More than REQ_MAX_PAIRS fields. */
	for (i = 0; i < REQ_MAX_PAIRS + 1; i++)
		buf_printf(&b, "k%d=v&", i);
	CU_ASSERT_EQUAL(parse(b.data, &l), REQ_BAD_FIELDS);
	buf_reset(&b);
	for (i = 0; i < REQ_MAX_PAIRS; i++)
		buf_printf(&b, "k%d=v&", i);
	CU_ASSERT_EQUAL(parse(b.data, &l), REQ_OK);
	CU_ASSERT_EQUAL(l.n, REQ_MAX_PAIRS);
	kv_free(&l);
	buf_free(&b);
}

static void
test_cookies(void)
{
	struct kvlist l;

	memset(&l, 0, sizeof(l));
	req_parse_cookies("waba_session=abc123; theme=dark;"
	                  "__Host-waba_login=\"q\"",
	    &l);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "waba_session"), "abc123");
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "__Host-waba_login"), "q");
	/* Other applications' cookies are not ours to keep. */
	CU_ASSERT_PTR_NULL(kv_get(&l, "theme"));
	kv_free(&l);

	/* Malformed pairs are skipped, the rest kept; first name wins. */
	req_parse_cookies("junk; =x; waba_b@d=1; waba_sid=first; "
	                  "waba_sid=second; waba_v=has\\slash; waba_ok=1",
	    &l);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "waba_sid"), "first");
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "waba_ok"), "1");
	CU_ASSERT_PTR_NULL(kv_get(&l, "waba_v"));
	kv_free(&l);

	/* A bare prefix is nobody's name. */
	req_parse_cookies("waba_=1; __Host-=2; __Host-waba_=3", &l);
	CU_ASSERT_EQUAL(l.n, 0);
	req_parse_cookies("", &l);
	CU_ASSERT_EQUAL(l.n, 0);
}

/*
 * Issue 8 item 5: a browser carrying many cookies of other sites on the
 * host sends ours after them; we must find ours however many come first.
 */
static void
test_cookies_behind_many(void)
{
	struct kvlist l;
	struct buf    b = BUF_INIT;
	int           i;

	memset(&l, 0, sizeof(l));
	for (i = 0; i < REQ_MAX_PAIRS + 36; i++)
		buf_printf(&b, "c%d=v; ", i);
	buf_puts(&b, "waba_session=s1");
	req_parse_cookies(b.data, &l);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_PTR_NOT_NULL(kv_get(&l, "waba_session"));
	kv_free(&l);

	/* Quoted values of others, ours quoted too, at the end of 8 KB. */
	buf_reset(&b);
	for (i = 0; b.len < 8000; i++)
		buf_printf(&b, "other_%d=\"%040d\"; ", i, i);
	buf_puts(&b, "__Host-waba_session=\"0123abcd\"");
	CU_ASSERT(b.len > 8000);
	req_parse_cookies(b.data, &l);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_PTR_NOT_NULL(kv_get(&l, "__Host-waba_session"));
	if (kv_get(&l, "__Host-waba_session") != NULL)
		CU_ASSERT_STRING_EQUAL(kv_get(&l, "__Host-waba_session"),
		    "0123abcd");
	kv_free(&l);
	buf_free(&b);
}

static void
test_percent_decode_path(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_EQUAL(req_percent_decode("/a+b%20c", 8, 0, &b), 0);
	CU_ASSERT_STRING_EQUAL(b.data, "/a+b c");
	CU_ASSERT_EQUAL(req_percent_decode("/a%00", 5, 0, &b), -1);
	CU_ASSERT_EQUAL(req_percent_decode("/%", 2, 0, &b), -1);
	buf_free(&b);
}

static void
test_cookie_limits(void)
{
	struct kvlist l;
	struct buf    b = BUF_INIT;
	int           i;

	memset(&l, 0, sizeof(l));
	/* A value of 4096 bytes is kept, one of 4097 skipped. */
	buf_puts(&b, "waba_big=");
	for (i = 0; i < 4096; i++)
		buf_putc(&b, 'v');
	buf_puts(&b, "; waba_bigger=");
	for (i = 0; i < 4097; i++)
		buf_putc(&b, 'v');
	buf_puts(&b, "; waba_ok=1");
	req_parse_cookies(b.data, &l);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_PTR_NOT_NULL(kv_get(&l, "waba_big"));
	if (kv_get(&l, "waba_big") != NULL)
		CU_ASSERT_EQUAL(strlen(kv_get(&l, "waba_big")), 4096);
	CU_ASSERT_PTR_NULL(kv_get(&l, "waba_bigger"));
	CU_ASSERT_STRING_EQUAL(kv_get(&l, "waba_ok"), "1");
	kv_free(&l);

	/* A name of REQ_MAX_KEY bytes is kept, one byte more skipped. */
	buf_reset(&b);
	buf_puts(&b, "waba_");
	for (i = 5; i < REQ_MAX_KEY; i++)
		buf_putc(&b, 'k');
	buf_puts(&b, "=1; waba_");
	for (i = 5; i < REQ_MAX_KEY + 1; i++)
		buf_putc(&b, 'n');
	buf_puts(&b, "=2");
	req_parse_cookies(b.data, &l);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_EQUAL(strlen(l.n ? l.v[0].key : ""), REQ_MAX_KEY);
	kv_free(&l);

	buf_free(&b);
}

/* req_init reads only envp of the FastCGI request: a fake one will do. */
static enum req_err
init_uri(struct req *r, const char *uri)
{
	static FCGX_Request f;
	char               *env[3], why[128];
	struct buf          u = BUF_INIT;
	enum req_err        status;

	buf_printf(&u, "REQUEST_URI=%s", uri);
	env[0] = "REQUEST_METHOD=GET";
	env[1] = u.data;
	env[2] = NULL;
	memset(&f, 0, sizeof(f));
	f.envp = env;
	status = req_init(r, &f, "", why, sizeof(why));
	r->fcgi = NULL;
	buf_free(&u);
	return status;
}

static void
test_query_and_path_limits(void)
{
	struct req r;
	struct buf b = BUF_INIT;
	int        i;

	/* A query string of exactly REQ_MAX_QUERY bytes is read... */
	buf_puts(&b, "/healthz?q=");
	for (i = 2; i < REQ_MAX_QUERY; i++)
		buf_putc(&b, 'x');
	CU_ASSERT_EQUAL(init_uri(&r, b.data), REQ_OK);
	CU_ASSERT_STRING_EQUAL(r.path, "/healthz");
	CU_ASSERT_EQUAL(strlen(kv_get(&r.query, "q")), REQ_MAX_QUERY - 2);
	req_free(&r);
	/* ...one more is 414, and the log sees the path, not the query. */
	buf_putc(&b, 'x');
	CU_ASSERT_EQUAL(init_uri(&r, b.data), REQ_TOO_LONG);
	CU_ASSERT_STRING_EQUAL(r.path, "/healthz");
	req_free(&r);

	/* A path longer than REQ_MAX_PATH is 414, logged cut short. */
	buf_reset(&b);
	for (i = 0; i < REQ_MAX_PATH + 1; i++)
		buf_putc(&b, i == 0 ? '/' : 'p');
	buf_puts(&b, "?secret=xyz");
	CU_ASSERT_EQUAL(init_uri(&r, b.data), REQ_TOO_LONG);
	CU_ASSERT_EQUAL(strlen(r.path), REQ_LOG_PATH + 3);
	CU_ASSERT_EQUAL(strncmp(r.path, b.data, REQ_LOG_PATH), 0);
	CU_ASSERT_STRING_EQUAL(r.path + REQ_LOG_PATH, "...");
	req_free(&r);

	/* A malformed path is 400 and logged as it was sent. */
	CU_ASSERT_EQUAL(init_uri(&r, "/w/%zz/settings?secret=xyz"),
	    REQ_BAD_ENCODING);
	CU_ASSERT_STRING_EQUAL(r.path, "/w/%zz/settings");
	req_free(&r);
	buf_free(&b);
}

/* Issue 8 item 6: an encoded slash in the path is 400, as web servers do. */
static void
test_encoded_slash(void)
{
	struct req r;

	CU_ASSERT_EQUAL(init_uri(&r, "/w/acme%2Fsettings/whatsapp"),
	    REQ_BAD_ENCODING);
	/* Logged as sent, so the operator sees what was refused. */
	CU_ASSERT_STRING_EQUAL(r.path, "/w/acme%2Fsettings/whatsapp");
	req_free(&r);
	CU_ASSERT_EQUAL(init_uri(&r, "/w/acme%2fsettings/whatsapp"),
	    REQ_BAD_ENCODING);
	req_free(&r);
	CU_ASSERT_EQUAL(init_uri(&r, "/w/acme/settings%2F"), REQ_BAD_ENCODING);
	req_free(&r);
	/* Other escapes still decode, and the query string may carry %2F. */
	CU_ASSERT_EQUAL(init_uri(&r, "/w/acme/settings/whatsapp?next=%2Fw%2Fx"),
	    REQ_OK);
	CU_ASSERT_STRING_EQUAL(r.path, "/w/acme/settings/whatsapp");
	CU_ASSERT_STRING_EQUAL(kv_get(&r.query, "next"), "/w/x");
	req_free(&r);
	CU_ASSERT_EQUAL(init_uri(&r, "/w/a%2Db/settings"), REQ_OK);
	CU_ASSERT_STRING_EQUAL(r.path, "/w/a-b/settings");
	req_free(&r);
}

/*
 * Issue 8 item 14: a decoded value (a password) is written into memory
 * sized once for the whole of it, never moved by a growing buffer. The
 * capacity is the proof: growth by doubling from 64 would give 64, 128,
 * ... and the data pointer would change on the way; room made up front
 * for the encoded length holds it all in the first allocation.
 */
static void
test_decode_sized_once(void)
{
	struct buf b = BUF_INIT, in = BUF_INIT;
	char      *before;
	int        i;

	for (i = 0; i < 3000; i++)
		buf_puts(&in, i % 3 ? "p" : "%41");
	/* A reused buf too small for the input is wiped and replaced... */
	CU_ASSERT_EQUAL(req_percent_decode("ab", 2, 0, &b), 0);
	CU_ASSERT_EQUAL(req_percent_decode(in.data, in.len, 1, &b), 0);
	CU_ASSERT_EQUAL(b.len, 3000);
	CU_ASSERT(b.cap >= in.len + 1);
	/* ...and one big enough is written in place. */
	before = b.data;
	CU_ASSERT_EQUAL(req_percent_decode(in.data, in.len - 2, 1, &b), 0);
	CU_ASSERT_PTR_EQUAL(b.data, before);
	buf_free(&b);

	/* buf_reserve(): the appends that follow never move the data. */
	CU_ASSERT_EQUAL(buf_reserve(&b, 5000), 0);
	before = b.data;
	for (i = 0; i < 5000; i++)
		buf_putc(&b, 'x');
	CU_ASSERT_PTR_EQUAL(b.data, before);
	buf_free(&b);
	buf_free(&in);
}

/* Issue 8 item 12: per-address throttling groups IPv6 by its /64. */
static void
test_addr_key(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "203.0.113.7", "203.0.113.7" },
		{ "::ffff:203.0.113.7", "203.0.113.7" },
		{ "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64" },
		{ "2001:db8:1:2::1", "2001:db8:1:2::/64" },
		{ "2001:DB8:1:2:ffff::", "2001:db8:1:2::/64" },
		{ "2001:db8:1:3::1", "2001:db8:1:3::/64" },
		{ "::1", "::/64" },
		{ "fe80::1%eth0", "fe80::1%eth0" }, /* not for inet_pton */
		{ "", "" },
	};
	char   out[80];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req_addr_key(cases[i].in, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fprintf(stderr, "\n%s: have %s, want %s\n", cases[i].in,
			    out, cases[i].want);
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
	}
	/* Two privacy addresses of one host share one key. */
	{
		char a[80], b[80];

		req_addr_key("2001:db8:0:7:1111:2222:3333:4444", a, sizeof(a));
		req_addr_key("2001:db8:0:7:9999:8888:7777:6666", b, sizeof(b));
		CU_ASSERT_STRING_EQUAL(a, b);
	}
	/* The longest key fits the login_failures.addr column (64). */
	req_addr_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", out,
	    sizeof(out));
	CU_ASSERT(strlen(out) <= 64);
}

/* A FastCGI stdin that holds body and then ends, as a closed record would. */
static const char *body_data;

static void
body_fill(FCGX_Stream *st)
{
	/* Never NULL: NULL + 0 is undefined (UBSan says so). */
	const char *d = body_data != NULL ? body_data : "";

	st->rdNext = (unsigned char *)d;
	st->stop = st->rdNext + strlen(d);
	body_data = NULL;
	if (st->stop == st->rdNext)
		st->isClosed = 1;
}

/* A POST to /login with the given Content-Length, type and body. */
static void
body_request(FCGX_Request *f, FCGX_Stream *in, char *env[6], struct buf *cl,
    struct buf *ct, const char *length, const char *type, const char *body)
{
	size_t n = 0;

	env[n++] = "REQUEST_METHOD=POST";
	env[n++] = "REQUEST_URI=/login";
	buf_reset(cl);
	buf_reset(ct);
	if (length != NULL) {
		buf_printf(cl, "CONTENT_LENGTH=%s", length);
		env[n++] = cl->data;
	}
	if (type != NULL) {
		buf_printf(ct, "CONTENT_TYPE=%s", type);
		env[n++] = ct->data;
	}
	env[n] = NULL;
	memset(in, 0, sizeof(*in));
	in->isReader = 1;
	in->fillBuffProc = body_fill;
	body_data = body;
	memset(f, 0, sizeof(*f));
	f->envp = env;
	f->in = in;
}

/*
 * What req_init and req_read_body make of a POST: each refusal names
 * its cause, so that app.c can answer 413, 415 or 400 by it.
 */
static void
test_body_refusals(void)
{
	static const struct {
		const char  *cl; /* CONTENT_LENGTH=..., NULL: none */
		const char  *ct;
		const char  *body;
		size_t       max;
		int          form;
		enum req_err init, read;
	} t[] = {
		{ "3", "application/x-www-form-urlencoded", "a=1", 3, 1, REQ_OK,
		    REQ_OK },
		{ "3", "application/x-www-form-urlencoded", "a=1", 2, 1, REQ_OK,
		    REQ_TOO_LARGE },
		{ "10", "application/x-www-form-urlencoded", "a=1", 100, 1,
		    REQ_OK, REQ_CUT_SHORT },
		{ "3", "text/plain", "a=1", 100, 1, REQ_OK, REQ_NOT_FORM },
		{ "3", NULL, "a=1", 100, 1, REQ_OK, REQ_NOT_FORM },
		/* A raw body (webhooks) takes any type. */
		{ "3", "application/json", "a=1", 100, 0, REQ_OK, REQ_OK },
		/* An empty body needs no type. */
		{ NULL, NULL, "", 100, 1, REQ_OK, REQ_OK },
		{ "7", "application/x-www-form-urlencoded", "a=1&a=2", 100, 1,
		    REQ_OK, REQ_BAD_FIELDS },
		{ "5", "application/x-www-form-urlencoded", "a=%zz", 100, 1,
		    REQ_OK, REQ_BAD_ENCODING },
		{ "3x", NULL, "a=1", 100, 1, REQ_BAD_LENGTH, REQ_OK },
		{ "-3", NULL, "a=1", 100, 1, REQ_BAD_LENGTH, REQ_OK },
	};
	FCGX_Stream  in;
	FCGX_Request f;
	struct req   r;
	struct buf   cl = BUF_INIT, ct = BUF_INIT;
	char        *env[6], why[128];
	size_t       i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s %s \"%s\" max %zu", t[i].cl ? t[i].cl : "-",
		    t[i].ct ? t[i].ct : "-", t[i].body, t[i].max);
		body_request(&f, &in, env, &cl, &ct, t[i].cl, t[i].ct,
		    t[i].body);
		why[0] = '\0';
		if (UT_EQ_INT(req_init(&r, &f, "", why, sizeof(why)),
		        t[i].init) &&
		    t[i].init == REQ_OK)
			UT_EQ_INT(req_read_body(&r, t[i].max, t[i].form, why,
			              sizeof(why)),
			    t[i].read);
		/* Every refusal says why, for the log and the page. */
		if (t[i].init != REQ_OK || t[i].read != REQ_OK)
			CU_ASSERT(why[0] != '\0');
		req_free(&r);
	}
	buf_free(&cl);
	buf_free(&ct);
}

/*
 * A body read whole is read to the stream's end, so the pool may close
 * without lingering (pool_close_plain); one refused unread, longer than
 * its Content-Length, or a POST without one (a body of unknown length:
 * reading on would wait for the client) is not, and the close lingers.
 */
static void
test_body_read_to_its_end(void)
{
	static const struct {
		const char *cl, *body;
		size_t      max;
		int         at_end;
	} t[] = {
		{ "3", "a=1", 100, 1 },
		{ "0", "", 100, 1 },
		{ NULL, "", 100, 0 },
		{ "3", "a=1&b=2", 100, 0 },
		{ "3", "a=1", 2, 0 },
	};
	FCGX_Stream  in;
	FCGX_Request f;
	struct req   r;
	struct buf   cl = BUF_INIT, ct = BUF_INIT;
	char        *env[6], why[128];
	size_t       i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s \"%s\" max %zu", t[i].cl ? t[i].cl : "-", t[i].body,
		    t[i].max);
		body_request(&f, &in, env, &cl, &ct, t[i].cl,
		    "application/json", t[i].body);
		if (UT_EQ_INT(req_init(&r, &f, "", why, sizeof(why)), REQ_OK)) {
			(void)req_read_body(&r, t[i].max, 0, why, sizeof(why));
			UT_EQ_INT(FCGX_HasSeenEOF(&in) == EOF, t[i].at_end);
		}
		req_free(&r);
	}
	buf_free(&cl);
	buf_free(&ct);
}

static const struct ut_test tests[] = { { "simple pairs", test_simple_pairs },
	{ "empty and valueless", test_empty_and_valueless },
	{ "malformed percent escapes", test_malformed_percent },
	{ "embedded NUL", test_embedded_nul }, { "bad UTF-8", test_bad_utf8 },
	{ "duplicate keys refused", test_duplicates_refused },
	{ "overlong input", test_overlong }, { "cookies", test_cookies },
	{ "path decoding", test_percent_decode_path },
	{ "cookie limits", test_cookie_limits },
	{ "our cookies behind many others", test_cookies_behind_many },
	{ "encoded slash in the path", test_encoded_slash },
	{ "decoding sized once", test_decode_sized_once },
	{ "address key for throttling", test_addr_key },
	{ "query and path limits", test_query_and_path_limits },
	{ "body refusals named", test_body_refusals },
	{ "body read to its end", test_body_read_to_its_end }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "request", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
