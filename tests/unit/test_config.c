/* Config errors must name the key (and line) in one clear line. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "../../src/config.h"
#include "harness.h"

#define BASE \
	"[server]\nbase_url = http://127.0.0.1:8080/\n" \
	"[database]\nuser = waba\n" \
	"[crypto]\nkey_ring_file = /tmp/k\n" \
	"[meta]\napp_id = 1234\napp_secret = s3cret-value\n" \
	"webhook_verify_token = vt\n"

static char err[512];

static struct config *
parse(const char *text)
{
	err[0] = '\0';
	return config_parse("t.conf", text, err, sizeof(err));
}

static void
expect_err(const char *text, const char *needle)
{
	struct config *c = parse(text);

	CU_ASSERT_PTR_NULL(c);
	config_free(c);
	if (strstr(err, needle) == NULL)
		fprintf(stderr, "\nwanted \"%s\" in \"%s\"\n", needle, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
	/* One line, and never the secret. */
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));
}

static void
test_good_and_defaults(void)
{
	struct config *c = parse(BASE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->base_url, "http://127.0.0.1:8080");
	CU_ASSERT_EQUAL(c->base_https, 0);
	CU_ASSERT_STRING_EQUAL(c->graph_version, "v25.0");
	CU_ASSERT_STRING_EQUAL(c->graph_base_url, "https://graph.facebook.com");
	CU_ASSERT_STRING_EQUAL(c->dialog_base_url, "https://www.facebook.com");
	CU_ASSERT_STRING_EQUAL(c->sdk_url,
	    "https://connect.facebook.net/en_US/sdk.js");
	CU_ASSERT_STRING_EQUAL(c->control_db, "waba_control");
	CU_ASSERT_STRING_EQUAL(c->workspace_db_prefix, "waba_ws_");
	CU_ASSERT_STRING_EQUAL(c->app_secret, "s3cret-value");
	CU_ASSERT_EQUAL(c->workers, 4);
	CU_ASSERT_EQUAL(c->request_budget_ms, 30000);
	/* 0: half the pool's workers (meta_gate.c). */
	CU_ASSERT_EQUAL(c->max_concurrent_calls, 0);
	CU_ASSERT_EQUAL(c->breaker_failures, 5);
	CU_ASSERT_EQUAL(c->breaker_seconds, 30);
	config_free(c);
	c = parse(BASE "max_concurrent_calls = 3\nbreaker_failures = 7\n"
	               "breaker_seconds = 2\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->max_concurrent_calls, 3);
	CU_ASSERT_EQUAL(c->breaker_failures, 7);
	CU_ASSERT_EQUAL(c->breaker_seconds, 2);
	config_free(c);
}

static void
test_database_host_list(void)
{
	struct config *c = parse(BASE "[database]\nhost = 127.0.0.1:33061, "
	                              "127.0.0.1:33062\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	config_free(c);
	expect_err(BASE "[database]\nhost = a,,b\n",
	    "[database] host: an empty entry");
	expect_err(BASE "[database]\nhost = db1:70000\n",
	    "[database] host: \"db1:70000\" is not a host");
}

static void
test_unknown_key_and_section(void)
{
	expect_err(BASE "colour = blue\n",
	    "t.conf:11: unknown key [meta] colour");
	expect_err("[nope]\n", "t.conf:1: unknown section [nope]");
	expect_err("x = 1\n", "t.conf:1: x: key outside of a [section]");
	expect_err("[server]\njunk\n", "t.conf:2: expected key = value");
	expect_err("[server\n", "t.conf:1: bad section line");
}

static void
test_bad_values(void)
{
	expect_err(BASE "[server]\nworkers = many\n",
	    "[server] workers: \"many\" is not a whole number from 1 to 256");
	expect_err(BASE "[server]\nworkers = 0\n", "[server] workers");
	expect_err(BASE "[server]\nlog_level = loud\n", "[server] log_level");
	expect_err(BASE "[meta]\ngraph_base_url = http://graph.example.com\n",
	    "[meta] graph_base_url: http:// is only allowed for loopback");
	expect_err(BASE "[meta]\ndialog_base_url = ftp://x\n",
	    "[meta] dialog_base_url");
	expect_err(BASE "[meta]\ngraph_version = 25\n", "[meta] graph_version");
	/* The SDK runs in the merchant's browser: https, or a loopback test. */
	expect_err(BASE "[meta]\nsdk_url = http://sdk.example.com/sdk.js\n",
	    "[meta] sdk_url: http:// is only allowed for loopback");
	expect_err(BASE "[meta]\nsdk_url = sdk.js\n", "[meta] sdk_url");
	expect_err(BASE "[meta]\nsdk_url = https://x/sdk.js?v=1\n",
	    "[meta] sdk_url: must not have a query");
	expect_err(BASE "[database]\ncontrol_db = a;drop\n",
	    "[database] control_db");
	expect_err(BASE "[meta]\napp_secret = other\n",
	    "[meta] app_secret: given twice");
	expect_err(BASE "[meta]\nconfig_id = \n",
	    "[meta] config_id: empty value");
	expect_err(BASE "[meta]\nrequest_budget_ms = 999\n",
	    "[meta] request_budget_ms");
	expect_err(BASE "[meta]\nrequest_budget_ms = 600001\n",
	    "[meta] request_budget_ms");
	expect_err(BASE "[meta]\nmax_concurrent_calls = 0\n",
	    "[meta] max_concurrent_calls: \"0\" is not a whole number from 1 "
	    "to 256");
	expect_err(BASE "[meta]\nbreaker_failures = none\n",
	    "[meta] breaker_failures");
	expect_err(BASE "[meta]\nbreaker_seconds = 3601\n",
	    "[meta] breaker_seconds");
	expect_err(BASE "[meta]\nca_file = /nonexistent/ca.pem\n",
	    "[meta] ca_file: /nonexistent/ca.pem: No such file or directory");
}

static void
test_missing_required(void)
{
	expect_err("[server]\nbase_url = https://x.example\n",
	    "t.conf: [database] user is required");
	expect_err("[server]\nbase_url = https://x.example\n[database]\n"
	           "user = u\n[crypto]\nkey_ring_file = k\n[meta]\napp_id = 1\n"
	           "webhook_verify_token = v\n",
	    "[meta] app_secret (or app_secret_file) is required");
}

static void
test_secret_file(void)
{
	char           path[] = "/tmp/waba-cfg-XXXXXX", text[1024];
	FILE          *f;
	int            fd;
	struct config *c;

	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	fputs("from-file-secret\nignored second line\n", f);
	fclose(f);
	snprintf(text, sizeof(text),
	    "[server]\nbase_url = https://a.example/"
	    "app\n[database]\nuser = u\n[crypto]\nkey_ring_file = k\n[meta]\n"
	    "app_id = 1\napp_secret_file = %s\nwebhook_verify_token = v\n",
	    path);
	c = parse(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->app_secret, "from-file-secret");
	CU_ASSERT_EQUAL(c->base_https, 1);
	CU_ASSERT_STRING_EQUAL(c->base_url, "https://a.example/app");
	config_free(c);
	/* A CRLF file's CR is not part of the secret. */
	f = fopen(path, "w");
	fputs("crlf-secret\r\n", f);
	fclose(f);
	c = parse(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->app_secret, "crlf-secret");
	config_free(c);
	/* A control character inside (a NUL would cut it short): refused. */
	f = fopen(path, "w");
	fwrite("abc\0def\n", 1, 8, f);
	fclose(f);
	expect_err(text, "its first line holds a control character");
	f = fopen(path, "w");
	fputs("\r\n", f);
	fclose(f);
	expect_err(text, "is empty");
	unlink(path);
	snprintf(text, sizeof(text), BASE "[database]\npassword_file = %s\n",
	    path);
	expect_err(text, "[database] password_file: cannot read");
}

/* The SDK's origin, as the CSP and embedded_signup.js compare it. */
static void
test_url_origin(void)
{
	static const struct {
		const char *url, *want;
	} t[] = {
		{ "https://connect.facebook.net/en_US/sdk.js",
		    "https://connect.facebook.net" },
		{ "http://127.0.0.1:8123/sdk.js", "http://127.0.0.1:8123" },
		{ "https://x.example:443/a/b", "https://x.example" },
		{ "http://localhost:80/", "http://localhost" },
		{ "https://x.example:8443", "https://x.example:8443" },
		{ "http://[::1]:9000/sdk.js", "http://[::1]:9000" },
		{ "sdk.js", NULL },
	};
	char   out[64], tiny[8];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s", t[i].url);
		if (t[i].want == NULL) {
			UT_EQ_INT(config_url_origin(t[i].url, out, sizeof(out)),
			    -1);
			continue;
		}
		UT_EQ_INT(config_url_origin(t[i].url, out, sizeof(out)), 0);
		UT_EQ_STR(out, t[i].want);
	}
	ut_case("too small");
	UT_EQ_INT(config_url_origin("https://connect.facebook.net/", tiny,
	              sizeof(tiny)),
	    -1);
}

static void
test_loopback(void)
{
	CU_ASSERT_TRUE(config_url_is_loopback("http://127.0.0.1:9/x"));
	CU_ASSERT_TRUE(config_url_is_loopback("http://localhost/"));
	CU_ASSERT_TRUE(config_url_is_loopback("http://[::1]:80/"));
	CU_ASSERT_FALSE(config_url_is_loopback("http://127.0.0.1.evil.com/"));
	CU_ASSERT_FALSE(config_url_is_loopback("http://10.0.0.1/"));
}

/* [webhooks] retention_days: 30 by default, never below Meta's 7-day
   redelivery window (the stored events are what deduplicates). */
static void
test_webhook_retention(void)
{
	struct config *c = parse(BASE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->webhook_retention_days, 30);
	config_free(c);
	c = parse(BASE "[webhooks]\nretention_days = 7\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->webhook_retention_days, 7);
	config_free(c);
	expect_err(BASE "[webhooks]\nretention_days = 6\n",
	    "t.conf:12: [webhooks] retention_days: \"6\" is not a whole "
	    "number from 7 to 3650");
	expect_err(BASE "[webhooks]\nretention_days = forever\n",
	    "[webhooks] retention_days: \"forever\"");
	expect_err(BASE "[webhooks]\nretention = 30\n",
	    "unknown key [webhooks] retention");
}

/* [monitor]: on by default, hourly, a week's warning; true | false. */
static void
test_monitor(void)
{
	struct config *c = parse(BASE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->monitor_enabled, 1);
	CU_ASSERT_EQUAL(c->monitor_interval_minutes, 60);
	CU_ASSERT_EQUAL(c->monitor_expiry_warning_days, 7);
	config_free(c);
	c = parse(BASE "[monitor]\nenabled = false\ninterval_minutes = 5\n"
	               "expiry_warning_days = 30\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->monitor_enabled, 0);
	CU_ASSERT_EQUAL(c->monitor_interval_minutes, 5);
	CU_ASSERT_EQUAL(c->monitor_expiry_warning_days, 30);
	config_free(c);
	expect_err(BASE "[monitor]\nenabled = yes\n",
	    "t.conf:12: [monitor] enabled: \"yes\" is not true or false");
	expect_err(BASE "[monitor]\ninterval_minutes = 0\n",
	    "[monitor] interval_minutes: \"0\" is not a whole number");
	expect_err(BASE "[monitor]\nexpiry_warning_days = 366\n",
	    "[monitor] expiry_warning_days: \"366\"");
}

/* [sender] (issue 13): off by default, Meta's limits as defaults. */
static void
test_sender(void)
{
	struct config *c = parse(BASE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->sender_enabled, 0);
	CU_ASSERT_EQUAL(c->sender_max_in_flight, 256);
	CU_ASSERT_EQUAL(c->sender_per_number_mps, 80);
	CU_ASSERT_EQUAL(c->sender_pair_interval_ms, 6000);
	CU_ASSERT_EQUAL(c->sender_max_attempts, 5);
	CU_ASSERT_EQUAL(c->sender_claim_timeout_s, 300);
	config_free(c);
	c = parse(BASE "[sender]\nenabled = true\nmax_in_flight = 8\n"
	               "per_number_mps = 20\npair_interval_ms = 0\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->sender_enabled, 1);
	CU_ASSERT_EQUAL(c->sender_max_in_flight, 8);
	CU_ASSERT_EQUAL(c->sender_per_number_mps, 20);
	CU_ASSERT_EQUAL(c->sender_pair_interval_ms, 0);
	config_free(c);
	expect_err(BASE "[sender]\nper_number_mps = 0\n",
	    "[sender] per_number_mps: \"0\"");
	expect_err(BASE "[sender]\nmax_in_flight = 5000\n",
	    "[sender] max_in_flight: \"5000\"");
}

/* [api] max_waiting: a quarter of the workers by default, at least 1,
   and never the whole pool. */
static void
test_api_max_waiting(void)
{
	struct config *c = parse(BASE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->workers, 4);
	CU_ASSERT_EQUAL(c->api_max_waiting, 1);
	config_free(c);
	c = parse(BASE "[server]\nworkers = 16\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->api_max_waiting, 4);
	config_free(c);
	c = parse(BASE "[server]\nworkers = 1\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->api_max_waiting, 1);
	config_free(c);
	c = parse(BASE "[server]\nworkers = 8\n[api]\nmax_waiting = 7\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->api_max_waiting, 7);
	config_free(c);
	expect_err(BASE "[server]\nworkers = 8\n[api]\nmax_waiting = 8\n",
	    "t.conf: [api] max_waiting: 8 must be below [server] workers (8)");
	expect_err(BASE "[api]\nmax_waiting = 0\n",
	    "[api] max_waiting: \"0\" is not a whole number from 1 to 256");
	expect_err(BASE "[api]\nmax_wait = 2\n", "unknown key [api] max_wait");
}

/* [server] user is looked up at parse time; root is no drop at all. */
static void
test_user(void)
{
	struct config *c;
	struct passwd *pw;
	char           text[1024], name[64] = "";
	uid_t          uid = 0;
	gid_t          gid = 0;

	c = parse(BASE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NULL(c->user);
	config_free(c);

	/* Any account but root's, as the system has one. */
	setpwent();
	while ((pw = getpwent()) != NULL)
		if (pw->pw_uid != 0 && strlen(pw->pw_name) < sizeof(name)) {
			snprintf(name, sizeof(name), "%s", pw->pw_name);
			uid = pw->pw_uid;
			gid = pw->pw_gid;
			break;
		}
	endpwent();
	CU_ASSERT_FATAL(name[0] != '\0');
	snprintf(text, sizeof(text), BASE "[server]\nuser = %s\n", name);
	c = parse(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->user, name);
	CU_ASSERT_EQUAL(c->user_uid, uid);
	CU_ASSERT_EQUAL(c->user_gid, gid);
	config_free(c);

	expect_err(BASE "[server]\nuser = no-such-user-w9\n",
	    "t.conf: [server] user: no such user \"no-such-user-w9\"");
	expect_err(BASE "[server]\nuser = root\n",
	    "t.conf: [server] user: \"root\" is root");
}

/* [api] max_upload_bytes: 100 MiB by default, bounded both ways. */
static void
test_api_section(void)
{
	struct config *c = parse(BASE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	UT_EQ_UINT(c->api_max_upload_bytes, 100u << 20);
	config_free(c);
	c = parse(BASE "[api]\nmax_upload_bytes = 16777216\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	UT_EQ_UINT(c->api_max_upload_bytes, 16u << 20);
	config_free(c);
	expect_err(BASE "[api]\nmax_upload_bytes = 1023\n",
	    "[api] max_upload_bytes");
	expect_err(BASE "[api]\nmax_upload_bytes = 1073741825\n",
	    "[api] max_upload_bytes");
	expect_err(BASE "[api]\nmax_upload = 5\n", "unknown key [api]");
	/* gate_lease_ms: 250 by default, 0 (read every time) to a minute. */
	c = parse(BASE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->api_gate_lease_ms, 250);
	config_free(c);
	c = parse(BASE "[api]\ngate_lease_ms = 0\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->api_gate_lease_ms, 0);
	config_free(c);
	expect_err(BASE "[api]\ngate_lease_ms = 60001\n",
	    "[api] gate_lease_ms: \"60001\" is not a whole number from 0 to "
	    "60000");
	expect_err(BASE "[api]\ngate_lease_ms = -1\n", "[api] gate_lease_ms");
}

static const struct ut_test tests[] = { { "good file and defaults",
	                                    test_good_and_defaults },
	{ "database host list", test_database_host_list },
	{ "unknown key and section", test_unknown_key_and_section },
	{ "[api] max_upload_bytes, gate_lease_ms", test_api_section },
	{ "bad values", test_bad_values },
	{ "missing required", test_missing_required },
	{ "secret from file", test_secret_file },
	{ "loopback check", test_loopback }, { "URL origin", test_url_origin },
	{ "webhook retention", test_webhook_retention },
	{ "api max_waiting", test_api_max_waiting },
	{ "monitor", test_monitor }, { "sender", test_sender },
	{ "server user", test_user }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "config", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
