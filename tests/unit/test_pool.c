/*
 * Unit tests for the supervisor's crash-loop guard (src/pool.c): crashes
 * count within a sliding window, so a pool that crashes now and then over
 * a long life never trips it, and a real crash loop does.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pool.h"
#include "harness.h"

static struct pool_crashes c;

/* 3 workers: the guard holds respawn above 9 crashes in the window. */
static void
test_spread(void)
{
	long long t;

	memset(&c, 0, sizeof(c));
	/* One crash every 400 ms for an hour: never more than 3 at once. */
	for (t = 0; t < 3600LL * 1000; t += 400) {
		pool_crash_add(&c, t);
		CU_ASSERT(pool_crash_recent(&c, t, POOL_CRASH_WINDOW_MS) <= 3);
	}
}

static void
test_burst(void)
{
	int i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < 10; i++)
		pool_crash_add(&c, 5000 + i * 10);
	CU_ASSERT_EQUAL(pool_crash_recent(&c, 5100, POOL_CRASH_WINDOW_MS), 10);
	/* The window slides: the first ones leave it, then all of them. */
	CU_ASSERT_EQUAL(pool_crash_recent(&c, 6000 + 45, POOL_CRASH_WINDOW_MS),
	    5);
	CU_ASSERT_EQUAL(pool_crash_recent(&c, 6090, POOL_CRASH_WINDOW_MS), 0);
	/* And it counts again after. */
	pool_crash_add(&c, 7000);
	CU_ASSERT_EQUAL(pool_crash_recent(&c, 7000, POOL_CRASH_WINDOW_MS), 1);
}

/* More crashes than the ring holds: the newest are kept, never more. */
static void
test_ring_full(void)
{
	int i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < 3 * POOL_CRASH_RING; i++)
		pool_crash_add(&c, 100000 + i / 10);
	CU_ASSERT_EQUAL(pool_crash_recent(&c, 100000 + 3 * POOL_CRASH_RING / 10,
	                    POOL_CRASH_WINDOW_MS),
	    POOL_CRASH_RING);
	CU_ASSERT_EQUAL(pool_crash_recent(&c,
	                    100000 + 3 * POOL_CRASH_RING / 10 +
	                        POOL_CRASH_WINDOW_MS,
	                    POOL_CRASH_WINDOW_MS),
	    0);
}

static const struct ut_test tests[] = { { "crashes spread out", test_spread },
	{ "crash burst", test_burst }, { "ring full", test_ring_full },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "pool", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
