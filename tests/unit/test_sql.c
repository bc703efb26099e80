/*
 * Unit tests for the bookkeeping of src/store/sql.c that needs no server:
 * the result columns a struct sq holds, as sq_run, sq_fetch and a failure
 * on a lost connection leave them.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "store/sql.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif

static struct sq	 q;

/* A column as sq_run sets it up: a buffer of len bytes plus the NUL. */
static void
column(unsigned int i, unsigned long len)
{
	q.rbuf[i] = calloc(1, len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q.rbuf[i]);
	q.r[i].buffer = q.rbuf[i];
	q.r[i].buffer_length = len;
	q.r[i].length = &q.rlen[i];
	q.r[i].is_null = &q.rnull[i];
}

/*
 * A truncated fetch (MYSQL_DATA_TRUNCATED) reports the value's full
 * length; the buffer holds buffer_length bytes of it, and sq_collen must
 * not promise more (a caller copies that many bytes out of rbuf).
 */
static void
test_collen_clamped(void)
{
	memset(&q, 0, sizeof(q));
	column(0, 31);
	column(1, 31);
	q.nr = 2;
	q.rlen[0] = 5000;
	q.rlen[1] = 7;
	CU_ASSERT_EQUAL(sq_collen(&q, 0), 31);
	CU_ASSERT_EQUAL(sq_collen(&q, 1), 7);
	q.rnull[1] = 1;
	CU_ASSERT_EQUAL(sq_collen(&q, 1), 0);
	CU_ASSERT_EQUAL(sq_collen(&q, 2), 0);
	sq_close(&q);
}

/*
 * sq_run used to leave nr at the server's column count when it refused
 * more than SQ_MAX_COLS, and sq_close then read rbuf[] past its end
 * (UBSan's bounds check reports it in the scripts/test --sanitize build).
 */
static void
test_close_bounded(void)
{
	memset(&q, 0, sizeof(q));
	column(0, 40);
	q.nr = SQ_MAX_COLS + 9;
	sq_close(&q);
	CU_ASSERT_EQUAL(q.nr, 0);
	CU_ASSERT_PTR_NULL(q.rbuf[0]);
}

/*
 * A failure on a lost connection (sq_stmt_fail) sets nr to 0 after
 * sq_run allocated the result buffers: sq_close must free them all the
 * same. Measured with mallinfo2 here, by LeakSanitizer in the sanitizer
 * build (where mallinfo2 reports nothing).
 */
static void
test_close_frees_after_loss(void)
{
#ifndef ASAN
	size_t	 before, during, after;

	before = mallinfo2().uordblks;
#endif
	memset(&q, 0, sizeof(q));
	column(0, 100000);
	column(3, 100000);
#ifndef ASAN
	during = mallinfo2().uordblks;
	CU_ASSERT(during >= before + 200000);
#endif
	q.nr = 0;		/* as sq_stmt_fail leaves it */
	sq_close(&q);
#ifndef ASAN
	after = mallinfo2().uordblks;
	CU_ASSERT(after < before + 1000);
#endif
	CU_ASSERT_PTR_NULL(q.rbuf[0]);
	CU_ASSERT_PTR_NULL(q.rbuf[3]);
}

static const struct ut_test tests[] = {
	{ "collen clamped", test_collen_clamped },
	{ "close bounded", test_close_bounded },
	{ "close frees after loss", test_close_frees_after_loss },
	{ NULL, NULL }
};

const struct ut_suite ut_suites[] = {
	{ "sql", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL }
};
