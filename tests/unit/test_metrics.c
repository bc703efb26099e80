/*
 * metrics: [metrics] allow (addresses, CIDR prefixes, IPv4 in IPv6) and
 * the exposition's text (counters move, a label value is escaped, a
 * slot claimed twice by name is one series).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "../../src/buf.h"
#include "../../src/metrics.h"
#include "harness.h"

static void
test_allowed(void)
{
	const char *loop = "127.0.0.0/8, ::1";

	UT_EQ_INT(metrics_allowed(loop, "127.0.0.1"), 1);
	UT_EQ_INT(metrics_allowed(loop, "127.9.8.7"), 1);
	UT_EQ_INT(metrics_allowed(loop, "::1"), 1);
	/* IPv4 as a dual-stack socket reports it. */
	UT_EQ_INT(metrics_allowed(loop, "::ffff:127.0.0.1"), 1);
	UT_EQ_INT(metrics_allowed(loop, "128.0.0.1"), 0);
	UT_EQ_INT(metrics_allowed(loop, "10.0.0.1"), 0);
	UT_EQ_INT(metrics_allowed(loop, "::2"), 0);
	UT_EQ_INT(metrics_allowed(loop, ""), 0);
	UT_EQ_INT(metrics_allowed(loop, "localhost"), 0);
	UT_EQ_INT(metrics_allowed(loop, NULL), 0);
	UT_EQ_INT(metrics_allowed("10.1.2.0/23", "10.1.3.255"), 1);
	UT_EQ_INT(metrics_allowed("10.1.2.0/23", "10.1.4.0"), 0);
	UT_EQ_INT(metrics_allowed("fd00::/8 192.0.2.7", "fd12::1"), 1);
	UT_EQ_INT(metrics_allowed("fd00::/8 192.0.2.7", "192.0.2.7"), 1);
	UT_EQ_INT(metrics_allowed("fd00::/8 192.0.2.7", "192.0.2.8"), 0);
	/* A prefix as the client address is no address. */
	UT_EQ_INT(metrics_allowed("0.0.0.0/0", "10.0.0.0/8"), 0);
	UT_EQ_INT(metrics_allowed("0.0.0.0/0", "203.0.113.9"), 1);
}

static void
test_allow_check(void)
{
	char why[160];

	UT_EQ_INT(metrics_allow_check("127.0.0.1, ::1", why, sizeof(why)), 0);
	UT_EQ_INT(metrics_allow_check("10.0.0.0/8,fd00::/8", why, sizeof(why)),
	    0);
	UT_EQ_INT(metrics_allow_check("127.0.0.1 localhost", why, sizeof(why)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "\"localhost\""));
	UT_EQ_INT(metrics_allow_check("10.0.0.0/33", why, sizeof(why)), -1);
	UT_EQ_INT(metrics_allow_check("::/129", why, sizeof(why)), -1);
	UT_EQ_INT(metrics_allow_check("10.0.0.0/", why, sizeof(why)), -1);
	UT_EQ_INT(metrics_allow_check(" , ", why, sizeof(why)), -1);
}

static void
test_render(void)
{
	static const char *const names[] = { "/login", "/w/{slug}/x" };
	static const char *const methods[] = { "GET", "POST" };
	struct metrics_gate      g = { 1, 4, 0 };
	struct metrics_ws        ws = { 3, 0, 2, 1, 1 };
	struct buf               b = BUF_INIT;
	char                     err[128];
	const char              *p;
	long long                ts;
	time_t                   t0;

	UT_EQ_INT(metrics_init_pool(err, sizeof(err)), 0);
	metrics_routes(names, methods, 2);
	metrics_request(0, 200, 1200);
	metrics_request(0, 200, 30000000);
	metrics_request(1, 303, 70000);
	metrics_request(-1, 404, 10);
	metrics_request(0, 299, 10);
	metrics_graph("messages", "ok");
	metrics_graph("messages", "ok");
	metrics_graph("debug_token", "timeout");
	metrics_webhook("accepted");
	metrics_webhook("with \"quote\" and \\ and\nnewline");
	/* No pass yet: zero passes, an empty histogram, "never" as 0. */
	UT_EQ_INT(metrics_render(&b, &g, &ws), 0);
	buf_putc(&b, '\0');
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "waba_monitor_passes_total 0\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(b.data, "waba_monitor_last_pass_timestamp_seconds 0\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(b.data, "waba_monitor_pass_duration_seconds_count 0\n"));
	CU_ASSERT_PTR_NULL(strstr(b.data, "waba_monitor_last_pass_seconds"));
	buf_reset(&b);
	t0 = time(NULL);
	metrics_monitor_pass(1500000, 0);
	metrics_monitor_pass(20000000, 1);
	UT_EQ_INT(metrics_render(&b, &g, &ws), 0);
	buf_putc(&b, '\0');
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "waba_monitor_passes_total 2\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(b.data, "waba_monitor_pass_failures_total 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "# TYPE waba_monitor_pass_duration_seconds histogram\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_monitor_pass_duration_seconds_bucket{le=\"1\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_monitor_pass_duration_seconds_bucket{le=\"5\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_monitor_pass_duration_seconds_bucket{le=\"30\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_monitor_pass_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_monitor_pass_duration_seconds_sum 21.500000\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(b.data, "waba_monitor_pass_duration_seconds_count 2\n"));
	p = strstr(b.data, "\nwaba_monitor_last_pass_timestamp_seconds ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	ts = strtoll(p + strlen("\nwaba_monitor_last_pass_timestamp_seconds "),
	    NULL, 10);
	CU_ASSERT(ts >= (long long)t0 && ts <= (long long)time(NULL));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_http_requests_total{method=\"GET\",route=\"/login\","
	    "status=\"200\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_http_requests_total{method=\"GET\",route=\"/login\","
	    "status=\"other\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_http_requests_total{method=\"\",route=\"unmatched\","
	    "status=\"404\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_http_request_duration_seconds_bucket{method=\"GET\","
	    "route=\"/login\",le=\"0.005\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_http_request_duration_seconds_bucket{method=\"GET\","
	    "route=\"/login\",le=\"10\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_http_request_duration_seconds_bucket{method=\"GET\","
	    "route=\"/login\",le=\"+Inf\"} 3\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_http_request_duration_seconds_sum{method=\"GET\","
	    "route=\"/login\"} 30.001210\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_graph_calls_total{endpoint=\"messages\",outcome=\"ok\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_graph_calls_total{endpoint=\"debug_token\","
	    "outcome=\"timeout\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data,
	    "waba_webhook_deliveries_total{outcome=\"with \\\"quote\\\" and "
	    "\\\\ and\\nnewline\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "waba_meta_bulkhead_in_use 1\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(b.data, "waba_workspaces{status=\"connected\"} 2\n"));
	/* No outbox yet: no gauge (issue 13 sets it). */
	CU_ASSERT_PTR_NULL(strstr(b.data, "waba_outbox_depth"));
	metrics_outbox_depth(7);
	buf_reset(&b);
	UT_EQ_INT(metrics_render(&b, NULL, NULL), 0);
	buf_putc(&b, '\0');
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "waba_outbox_depth 7\n"));
	CU_ASSERT_PTR_NULL(strstr(b.data, "waba_workspaces"));
	buf_free(&b);
}

static const struct ut_test tests[] = { { "allowed", test_allowed },
	{ "allow check", test_allow_check }, { "render", test_render },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "metrics", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
