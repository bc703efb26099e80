/*
 * view: error pages render through the real templates/ directory (the
 * one installed), escape what they are given, and keep the headers set
 * before them.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "../../src/app.h"
#include "../../src/buf.h"
#include "../../src/log.h"
#include "../../src/response.h"
#include "../../src/template.h"
#include "../../src/view.h"
#include "harness.h"

#ifndef UT_TEMPLATE_DIR
#error "UT_TEMPLATE_DIR: the source tree's templates/"
#endif

static struct app  app;
static struct resp resp;
static struct ctx  c;

static int
init_view(void)
{
	char err[512];

	log_init("test_view", LOG_LVL_ERROR);
	if ((app.tmpl = tmpl_load_dir(UT_TEMPLATE_DIR, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	snprintf(app.mount, sizeof(app.mount), "/waba");
	return 0;
}

static int
cleanup_view(void)
{
	tmpl_free(app.tmpl);
	resp_free(&resp);
	return 0;
}

/* A fresh context: no session, no workspace, an empty answer. */
static void
fresh(void)
{
	resp_free(&resp);
	resp_init(&resp);
	memset(&c, 0, sizeof(c));
	c.app = &app;
	c.resp = &resp;
}

static void
test_error_pages(void)
{
	static const struct {
		int         status;
		const char *title;
	} t[] = {
		{ 400, "This request could not be understood" },
		{ 403, "This action was refused" },
		{ 404, "Page not found" },
		{ 405, "This action is not available here" },
		{ 413, "What you sent is too large" },
		{ 429, "Please wait a moment" },
		{ 500, "Something went wrong on our side" },
		{ 502, "Meta could not complete this" },
		{ 503, "Temporarily unavailable" },
		{ 504, "Meta did not answer in time" },
		{ 599, "Something went wrong on our side" },
		{ 418, "This request could not be completed" },
	};
	char   want[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("status %d", t[i].status);
		fresh();
		view_error(&c, t[i].status, "The slug is not valid.");
		UT_EQ_INT(resp.status, t[i].status);
		UT_EQ_STR(resp.ctype, "text/html; charset=utf-8");
		snprintf(want, sizeof(want), "<h1>%s</h1>", t[i].title);
		UT_HAS_STR(buf_str(&resp.body), want);
		snprintf(want, sizeof(want), "<title>%s · WhatsApp",
		    t[i].title);
		UT_HAS_STR(buf_str(&resp.body), want);
		snprintf(want, sizeof(want), "Error %d</p>", t[i].status);
		UT_HAS_STR(buf_str(&resp.body), want);
		UT_HAS_STR(buf_str(&resp.body),
		    "<p id=\"error-message\">The slug is not valid.</p>");
		/* Without a retry link, the way forward is the sign-in. */
		UT_HAS_STR(buf_str(&resp.body),
		    "<a href=\"/waba/login\">Go to your workspace</a>");
		UT_LACKS_STR(buf_str(&resp.body), "id=\"go-back\"");
		UT_LACKS_STR(buf_str(&resp.body), "id=\"reconnect\"");
		UT_LACKS_STR(buf_str(&resp.body), "Sign out");
		UT_LACKS_STR(buf_str(&resp.body), "{{");
	}
}

/* Whatever the message holds is text, never markup. */
static void
test_error_escapes(void)
{
	fresh();
	view_error_with(&c, 400, "<script>alert(\"x\")</script>&",
	    "/back?a=1&b=\"2\"", "Ab<1>", 0);
	UT_HAS_STR(buf_str(&resp.body),
	    "&lt;script&gt;alert(&quot;x&quot;)"
	    "&lt;/script&gt;&amp;");
	UT_LACKS_STR(buf_str(&resp.body), "<script>");
	UT_HAS_STR(buf_str(&resp.body),
	    "href=\"/back?a&#61;1&amp;b&#61;&quot;2&quot;\" id=\"go-back\"");
	UT_HAS_STR(buf_str(&resp.body), "<code>Ab&lt;1&gt;</code>");
	UT_LACKS_STR(buf_str(&resp.body), "Go to your workspace");
}

static void
test_error_way_forward(void)
{
	/* An empty reference is no reference. */
	fresh();
	view_error_with(&c, 502, "Meta refused.", NULL, "", 1);
	UT_LACKS_STR(buf_str(&resp.body), "Reference for Meta support");
	/* Reconnect needs the workspace: without it, no button. */
	UT_LACKS_STR(buf_str(&resp.body), "id=\"reconnect\"");

	fresh();
	c.has_ws = 1;
	snprintf(c.ws.slug, sizeof(c.ws.slug), "acme");
	c.has_sess = 1;
	snprintf(c.sess.email, sizeof(c.sess.email), "a<b@example.com");
	snprintf(c.sess.csrf, sizeof(c.sess.csrf), "%064d", 7);
	view_error_with(&c, 502, "Meta refused.", NULL, "AbCd", 1);
	UT_HAS_STR(buf_str(&resp.body),
	    "action=\"/waba/w/acme/settings/whatsapp/connect\"");
	UT_HAS_STR(buf_str(&resp.body), "id=\"reconnect\"");
	UT_HAS_STR(buf_str(&resp.body), "<code>AbCd</code>");
	/* The header's sign-out form: the user, escaped, and the token. */
	UT_HAS_STR(buf_str(&resp.body), "<span>a&lt;b@example.com</span>");
	UT_HAS_STR(buf_str(&resp.body), "action=\"/waba/logout\"");
	UT_HAS_STR(buf_str(&resp.body),
	    "value=\""
	    "0000000000000000000000000000000000000000000000000000000000000007\"");
}

/* A Set-Cookie set before the page goes out with it; a half-built body does not. */
static void
test_keeps_headers(void)
{
	fresh();
	resp_header(&resp, "Set-Cookie", "waba_login=x; Path=/");
	buf_puts(&resp.body, "half a page");
	view_error(&c, 403, "No.");
	UT_EQ_STR(buf_str(&resp.headers),
	    "Set-Cookie: waba_login=x; Path=/\r\n");
	UT_LACKS_STR(buf_str(&resp.body), "half a page");
	UT_HAS_STR(buf_str(&resp.body), "No.");
}

/* A template that is not there: a plain 500, not a half page. */
static void
test_missing_template(void)
{
	fresh();
	buf_puts(&resp.body, "half a page");
	view_page(&c, 200, "no_such_template", NULL);
	UT_EQ_INT(resp.status, 500);
	UT_EQ_STR(resp.ctype, "text/plain; charset=utf-8");
	UT_HAS_STR(buf_str(&resp.body), "Internal error");
	UT_LACKS_STR(buf_str(&resp.body), "half a page");
}

/* view_page hands every page the mount path as "base". */
static void
test_page_base(void)
{
	struct json_object *d = json_object_new_object();

	fresh();
	json_object_object_add(d, "title", json_object_new_string("Sign in"));
	view_page(&c, 200, "login", d);
	UT_EQ_INT(resp.status, 200);
	UT_HAS_STR(buf_str(&resp.body), "href=\"/waba/static/style.css\"");
	UT_HAS_STR(buf_str(&resp.body), "<title>Sign in · WhatsApp");
}

static const struct ut_test tests[] = { { "error pages per status",
	                                    test_error_pages },
	{ "error page escapes", test_error_escapes },
	{ "error page ways forward", test_error_way_forward },
	{ "headers kept", test_keeps_headers },
	{ "missing template", test_missing_template },
	{ "page base", test_page_base }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "view", NULL, init_view, cleanup_view,
	                                  tests },
	{ NULL, NULL, NULL, NULL, NULL } };
