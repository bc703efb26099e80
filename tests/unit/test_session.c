/*
 * session: what can be checked without a database — the cookie formats
 * (session, sign-in token, device cookie), the constant-time token
 * comparisons, and that malformed cookies never reach the store. The
 * device cookie's MAC uses a real key ring in a temporary directory.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <sodium.h>

#include "../../src/app.h"
#include "../../src/buf.h"
#include "../../src/config.h"
#include "../../src/request.h"
#include "../../src/response.h"
#include "../../src/session.h"
#include "../../src/vault.h"
#include "harness.h"

#define HEX64 \
	"0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef"

static char        dir[] = "/tmp/test_session.XXXXXX";
static char        ring[64];
static struct app  app_http, app_https;
static struct req  req;
static struct resp resp;
static struct ctx  c;

static struct config *
conf(const char *base)
{
	char           text[512], err[512];
	struct config *cf;

	snprintf(text, sizeof(text),
	    "[server]\nbase_url = %s\n"
	    "[database]\nuser = waba\n[crypto]\nkey_ring_file = %s\n"
	    "[meta]\napp_id = 1234\napp_secret = s\n"
	    "webhook_verify_token = vt\n",
	    base, ring);
	if ((cf = config_parse("t.conf", text, err, sizeof(err))) == NULL)
		fprintf(stderr, "%s\n", err);
	return cf;
}

static int
before_session(void)
{
	return vault_sodium_init() == 0 ? 0 : -1;
}

static int
init_session(void)
{
	char err[512];

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(ring, sizeof(ring), "%s/ring", dir);
	if (vault_ring_init(ring, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if ((app_http.cfg = conf("http://127.0.0.1:8080/")) == NULL ||
	    (app_https.cfg = conf("https://example.com/")) == NULL)
		return -1;
	if ((app_http.vault = vault_open(ring, err, sizeof(err))) == NULL ||
	    (app_https.vault = vault_open(ring, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
cleanup_session(void)
{
	config_free(app_http.cfg);
	config_free(app_https.cfg);
	vault_close(app_http.vault);
	vault_close(app_https.vault);
	kv_free(&req.cookies);
	resp_free(&resp);
	unlink(ring);
	rmdir(dir);
	return 0;
}

/* A request that carries the Cookie header cookie (may be NULL). */
static void
fresh(struct app *a, const char *cookie)
{
	kv_free(&req.cookies);
	memset(&req, 0, sizeof(req));
	if (cookie != NULL)
		req_parse_cookies(cookie, &req.cookies);
	resp_free(&resp);
	resp_init(&resp);
	memset(&c, 0, sizeof(c));
	c.app = a;
	c.req = &req;
	c.resp = &resp;
}

static int
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return s[64] == '\0';
}

static void
test_csrf(void)
{
	static const struct {
		const char *token;
		int         want;
	} t[] = {
		{ HEX64, 1 },
		{ "1123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdef",
		    0 },
		{ "0123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdee",
		    0 },
		{ "0123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcde",
		    0 },
		{ HEX64 "0", 0 },
		{ "", 0 },
		{ NULL, 0 },
	};
	size_t i;

	fresh(&app_http, NULL);
	snprintf(c.sess.csrf, sizeof(c.sess.csrf), "%s", HEX64);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%zu", i);
		c.has_sess = 1;
		UT_EQ_INT(session_csrf_ok(&c, t[i].token), t[i].want);
		/* Without a session no token is right. */
		c.has_sess = 0;
		UT_EQ_INT(session_csrf_ok(&c, t[i].token), 0);
	}
	ut_case(NULL);
	/* A short stored token never matches itself. */
	c.has_sess = 1;
	snprintf(c.sess.csrf, sizeof(c.sess.csrf), "abc");
	UT_EQ_INT(session_csrf_ok(&c, "abc"), 0);
}

/* No valid sign-in cookie: a new random token, set as the cookie. */
static void
test_login_token_new(void)
{
	static const char *const cookies[] = {
		NULL,
		"other=1",
		"waba_login=" HEX64 "0",
		"waba_login=0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdeg",
		"waba_login=",
	};
	char   out[65], first[65] = "", want[160];
	size_t i;

	for (i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
		ut_case("cookie %s", cookies[i] ? cookies[i] : "(none)");
		fresh(&app_http, cookies[i]);
		UT_EQ_INT(session_login_token(&c, out), 0);
		CU_ASSERT(is_hex64(out));
		CU_ASSERT(strcmp(out, first) != 0);
		snprintf(first, sizeof(first), "%s", out);
		snprintf(want, sizeof(want),
		    "Set-Cookie: waba_login=%s; "
		    "Path=/; HttpOnly; SameSite=Lax\r\n",
		    out);
		UT_EQ_STR(buf_str(&resp.headers), want);
		/* The new token is not valid until the browser sends it back. */
		UT_EQ_INT(session_login_token_ok(&c, out), 0);
	}
	/* Over https: the __Host- prefix and Secure. */
	ut_case("https");
	fresh(&app_https, NULL);
	UT_EQ_INT(session_login_token(&c, out), 0);
	snprintf(want, sizeof(want),
	    "Set-Cookie: __Host-waba_login=%s; "
	    "Path=/; HttpOnly; SameSite=Lax; Secure\r\n",
	    out);
	UT_EQ_STR(buf_str(&resp.headers), want);
}

/* A valid sign-in cookie is reused, and only it validates the form. */
static void
test_login_token_reuse(void)
{
	char out[65];

	fresh(&app_http, "a=b; waba_login=" HEX64);
	UT_EQ_INT(session_login_token(&c, out), 0);
	UT_EQ_STR(out, HEX64);
	UT_EQ_UINT(resp.headers.len, 0);
	UT_EQ_INT(session_login_token_ok(&c, HEX64), 1);
	UT_EQ_INT(session_login_token_ok(&c, HEX64 "0"), 0);
	UT_EQ_INT(session_login_token_ok(&c, "0"), 0);
	UT_EQ_INT(session_login_token_ok(&c, NULL), 0);
	/* The https name is another cookie. */
	fresh(&app_https, "waba_login=" HEX64);
	UT_EQ_INT(session_login_token_ok(&c, HEX64), 0);
	fresh(&app_https, "__Host-waba_login=" HEX64);
	UT_EQ_INT(session_login_token_ok(&c, HEX64), 1);
	/* Equal but malformed on both sides is no match. */
	fresh(&app_http, "waba_login=abc");
	UT_EQ_INT(session_login_token_ok(&c, "abc"), 0);
}

/*
 * Malformed session cookies are refused before any database lookup: the
 * app here has no database at all (app.db NULL).
 */
static void
test_load_malformed(void)
{
	static const char *const cookies[] = {
		NULL, "waba_session=", "waba_session=" HEX64 "0",
		"waba_session=0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdeZ",
		"__Host-waba_session=" HEX64, /* not our name over http */
	};
	size_t i;

	for (i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
		ut_case("cookie %s", cookies[i] ? cookies[i] : "(none)");
		fresh(&app_http, cookies[i]);
		c.has_sess = 1;
		UT_EQ_INT(session_load(&c), STORE_NOTFOUND);
		UT_EQ_INT(c.has_sess, 0);
	}
}

/* Signing out without a session only clears the cookie. */
static void
test_end_clears(void)
{
	fresh(&app_http, NULL);
	UT_EQ_INT(session_end(&c), STORE_OK);
	UT_EQ_STR(buf_str(&resp.headers),
	    "Set-Cookie: waba_session=; Path=/; "
	    "HttpOnly; SameSite=Lax; Max-Age=0\r\n");
	fresh(&app_https, NULL);
	UT_EQ_INT(session_end(&c), STORE_OK);
	UT_EQ_STR(buf_str(&resp.headers),
	    "Set-Cookie: __Host-waba_session=; "
	    "Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0\r\n");
}

/* Issues a device cookie for email; its value goes to val. */
static int
issue(struct app *a, const char *email, char *val, size_t len)
{
	const char *h, *eq, *semi;

	fresh(a, NULL);
	if (!UT_EQ_INT(session_device_issue(&c, email), 0))
		return -1;
	h = buf_str(&resp.headers);
	if ((eq = strchr(h, '=')) == NULL || (semi = strchr(eq, ';')) == NULL)
		return -1;
	snprintf(val, len, "%.*s", (int)(semi - eq - 1), eq + 1);
	return 0;
}

static int
check(struct app *a, const char *name, const char *val, const char *email,
    unsigned char dev[16])
{
	struct buf cookie = BUF_INIT;
	int        ok;

	buf_printf(&cookie, "%s=%s", name, val);
	fresh(a, buf_str(&cookie));
	ok = session_device_check(&c, email, dev);
	buf_free(&cookie);
	return ok;
}

static void
test_device_format(void)
{
	char          val[300], hdr[400], nhex[33];
	unsigned char dev[16];

	CU_ASSERT_FATAL(
	    issue(&app_http, "a@example.com", val, sizeof(val)) == 0);
	/* VERSION.NONCE.MAC: 1, 32 and 64 lower-case hex digits. */
	UT_EQ_UINT(strlen(val), 2 + 32 + 1 + 64);
	CU_ASSERT(strncmp(val, "1.", 2) == 0);
	UT_EQ_INT(val[34], '.');
	CU_ASSERT(is_hex64(val + 35));
	snprintf(hdr, sizeof(hdr),
	    "Set-Cookie: waba_device=%s; Path=/; "
	    "Max-Age=15552000; HttpOnly; SameSite=Lax\r\n",
	    val);
	UT_EQ_STR(buf_str(&resp.headers), hdr);
	/* The email is not in the cookie. */
	UT_LACKS_STR(buf_str(&resp.headers), "example");

	UT_EQ_INT(check(&app_http, "waba_device", val, "a@example.com", dev),
	    1);
	sodium_bin2hex(nhex, sizeof(nhex), dev, sizeof(dev));
	UT_EQ_MEM(nhex, 32, val + 2, 32);

	CU_ASSERT_FATAL(
	    issue(&app_https, "a@example.com", val, sizeof(val)) == 0);
	UT_HAS_STR(buf_str(&resp.headers), "Set-Cookie: __Host-waba_device=");
	UT_HAS_STR(buf_str(&resp.headers), "SameSite=Lax; Secure\r\n");
	UT_EQ_INT(check(&app_https, "__Host-waba_device", val, "a@example.com",
	              dev),
	    1);
	UT_EQ_INT(check(&app_https, "waba_device", val, "a@example.com", dev),
	    0);
}

/* Any change to a good cookie, or another account, is not valid. */
static void
test_device_refused(void)
{
	static const struct {
		const char *what;
		size_t      at;   /* byte replaced, or cut there */
		char        with; /* 0: cut */
	} t[] = {
		{ "version 0", 0, '0' },
		{ "version 2, not in the ring", 0, '2' },
		{ "no first dot", 1, 'a' },
		{ "nonce changed", 5, 'x' },
		{ "nonce not hex", 5, 'g' },
		{ "no second dot", 34, 'a' },
		{ "mac changed", 60, 'x' },
		{ "mac not hex", 98, 'z' },
		{ "mac cut short", 98, 0 },
		{ "nothing", 0, 0 },
	};
	char          good[300], bad[302];
	unsigned char dev[16];
	size_t        i;

	CU_ASSERT_FATAL(
	    issue(&app_http, "a@example.com", good, sizeof(good)) == 0);
	UT_EQ_INT(check(&app_http, "waba_device", good, "b@example.com", dev),
	    0);
	UT_EQ_INT(check(&app_http, "waba_device", good, "A@example.com", dev),
	    0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s", t[i].what);
		snprintf(bad, sizeof(bad), "%s", good);
		if (t[i].with == 'x') /* another valid hex digit */
			bad[t[i].at] = bad[t[i].at] == '0' ? '1' : '0';
		else if (t[i].with != 0)
			bad[t[i].at] = t[i].with;
		else
			bad[t[i].at] = '\0';
		UT_EQ_INT(check(&app_http, "waba_device", bad, "a@example.com",
		              dev),
		    0);
	}
	ut_case(NULL);
	/* Extra bytes after the MAC. */
	snprintf(bad, sizeof(bad), "%s0", good);
	UT_EQ_INT(check(&app_http, "waba_device", bad, "a@example.com", dev),
	    0);
	/* The untouched cookie still is: the table changed only copies. */
	UT_EQ_INT(check(&app_http, "waba_device", good, "a@example.com", dev),
	    1);
}

static const struct ut_test tests[] = { { "CSRF token comparison", test_csrf },
	{ "sign-in token: new", test_login_token_new },
	{ "sign-in token: reused", test_login_token_reuse },
	{ "malformed session cookies", test_load_malformed },
	{ "sign-out clears the cookie", test_end_clears },
	{ "device cookie format", test_device_format },
	{ "device cookie refused", test_device_refused }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "session", before_session, init_session,
	                                  cleanup_session, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
