/*
 * monitor: monitor_next_check, the settings page's next check, must be
 * the point store_mon_release's SQL gives the lease.
 */
#include <stdint.h>

#include <CUnit/Basic.h>

#include "../../src/monitor.h"
#include "harness.h"

static void
test_next_check(void)
{
	static const long     intervals[] = { 1, 60, 3600, 86400 };
	static const uint64_t ids[] = { 1, 2, 7, 123456789 };
	static const int64_t  times[] = { 0, 59, 1800, 1764662400, 1764664199 };
	size_t                a, b, c;

	for (a = 0; a < sizeof(intervals) / sizeof(intervals[0]); a++)
		for (b = 0; b < sizeof(ids) / sizeof(ids[0]); b++)
			for (c = 0; c < sizeof(times) / sizeof(times[0]); c++) {
				long    iv = intervals[a];
				int64_t t = times[c];
				int64_t n = monitor_next_check(ids[b], iv, t);
				int64_t phase = (int64_t)((ids[b] *
				                              2654435761u) %
				    (uint64_t)iv);

				/* At least half an interval on, at most 1.5. */
				CU_ASSERT(n > t + iv / 2);
				CU_ASSERT(n <= t + iv / 2 + iv);
				/* On the workspace's own point. */
				CU_ASSERT_EQUAL((n - phase) % iv, 0);
				/* Checked at a point: the next is one on. */
				UT_EQ_INT(monitor_next_check(ids[b], iv, n),
				    n + iv);
			}
	/* An hour, workspace 1: its point is 2654435761 % 3600 = 961. */
	UT_EQ_INT(monitor_next_check(1, 3600, 0), 961 + 3600);
	UT_EQ_INT(monitor_next_check(1, 3600, 961 + 3600), 961 + 7200);
}

static const struct ut_test tests[] = { { "next check", test_next_check },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "monitor", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
