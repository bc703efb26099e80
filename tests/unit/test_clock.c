/*
 * Unit tests for clock.h: both clocks are monotonic and tell the same
 * time in their units (the budgets, leases and durations that mix them
 * compare like with like).
 */
#include <time.h>

#include <CUnit/Basic.h>

#include "clock.h"
#include "harness.h"

static void
test_monotonic(void)
{
	long long       ms = clk_ms(), us = clk_us(), m2, u2;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int             i;

	CU_ASSERT(ms > 0);
	for (i = 0; i < 1000; i++) {
		m2 = clk_ms();
		u2 = clk_us();
		CU_ASSERT(m2 >= ms);
		CU_ASSERT(u2 >= us);
		ms = m2;
		us = u2;
	}
	nanosleep(&pause, NULL);
	CU_ASSERT(clk_ms() - ms >= 20);
	CU_ASSERT(clk_us() - us >= 20000);
}

static void
test_same_time(void)
{
	long long ms = clk_ms(), us = clk_us(), after = clk_ms();

	/* The same clock: us falls between the two ms read around it. */
	CU_ASSERT(us / 1000 >= ms);
	CU_ASSERT(us / 1000 <= after);
}

static const struct ut_test tests[] = { { "monotonic", test_monotonic },
	{ "same time", test_same_time }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "clock", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
