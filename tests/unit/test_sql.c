/*
 * Unit tests for the bookkeeping of src/store/sql.c that needs no server:
 * the result columns a struct sq holds, as sq_run, sq_fetch and a failure
 * on a lost connection leave them; the parameter lists of the row helpers
 * (SQ_ARGS, sq_bind) as they become binds; and that a statement too long
 * for SQ_MAX_SQL is refused before any server is asked.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "config.h"
#include "db.h"
#include "store/sql.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif

static struct sq q;

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
	size_t before, during, after;

	before = mallinfo2().uordblks;
#endif
	memset(&q, 0, sizeof(q));
	column(0, 100000);
	column(3, 100000);
#ifndef ASAN
	during = mallinfo2().uordblks;
	CU_ASSERT(during >= before + 200000);
#endif
	q.nr = 0; /* as sq_stmt_fail leaves it */
	sq_close(&q);
#ifndef ASAN
	after = mallinfo2().uordblks;
	CU_ASSERT(after < before + 1000);
#endif
	CU_ASSERT_PTR_NULL(q.rbuf[0]);
	CU_ASSERT_PTR_NULL(q.rbuf[3]);
}

/*
 * A plain query's row (sq_open_text) reads through the same sq_col and
 * sq_collen: libmariadb's values, NULL for SQL NULL, nothing past the
 * result's columns or before the first fetch.
 */
static void
test_text_columns(void)
{
	char         *row[3] = { "abc", NULL, "" };
	unsigned long lens[3] = { 3, 0, 0 };

	memset(&q, 0, sizeof(q));
	q.text = "SELECT 1";
	q.nr = 3;
	CU_ASSERT_PTR_NULL(sq_col(&q, 0)); /* no row fetched yet */
	CU_ASSERT_EQUAL(sq_collen(&q, 0), 0);
	q.row = row;
	q.lens = lens;
	CU_ASSERT_STRING_EQUAL(sq_col(&q, 0), "abc");
	CU_ASSERT_EQUAL(sq_collen(&q, 0), 3);
	CU_ASSERT_PTR_NULL(sq_col(&q, 1));
	CU_ASSERT_EQUAL(sq_collen(&q, 1), 0);
	CU_ASSERT_STRING_EQUAL(sq_col(&q, 2), "");
	CU_ASSERT_PTR_NULL(sq_col(&q, 3));
	CU_ASSERT_EQUAL(sq_collen(&q, 3), 0);
	CU_ASSERT_EQUAL(sq_colint(&q, 1), 0);
	sq_close(&q);
	CU_ASSERT_PTR_NULL(q.text);
}

/*
 * A plain query takes no values: one bound to it is refused before
 * anything is sent (no connection is touched: q.my is NULL here).
 */
static void
test_text_refuses_params(void)
{
	memset(&q, 0, sizeof(q));
	q.text = "SELECT ?";
	sq_int(&q, 7);
	CU_ASSERT_EQUAL(sq_run(&q), STORE_ERR);
	sq_close(&q);
}

/*
 * A plain statement cut at SQ_MAX_SQL might still run, as another one:
 * it is refused before anything is sent (my is never touched: NULL).
 */
static void
test_text_on_too_long(void)
{
	unsigned int err = 1;

	CU_ASSERT_EQUAL(sq_do_text_on(NULL, &err, "SELECT '%0*d'", SQ_MAX_SQL,
	                    1),
	    STORE_ERR);
	CU_ASSERT_EQUAL(err, 0);
}

/*
 * Each kind of SQ_* argument becomes the bind sq_str/sq_bin/sq_int/
 * sq_null would have made, pointing at the caller's bytes (nothing is
 * copied but integers), in order.
 */
static void
test_bind_kinds(void)
{
	static const unsigned char bytes[3] = { 0, 0xff, 7 };
	const char                *str = "abc";
	uint64_t                   id = 42;
	unsigned int               n;

	memset(&q, 0, sizeof(q));
	n = sq_bind(&q,
	    SQ_ARGS(SQ_S(str), SQ_I(-5), SQ_B(bytes, sizeof(bytes)), SQ_NULL,
	        SQ_S(NULL), SQ_I(id)));
	UT_EQ_UINT(n, 6);
	UT_EQ_UINT(q.np, 6);
	UT_EQ_INT(q.bad, 0);
	UT_EQ_INT(q.p[0].buffer_type, MYSQL_TYPE_STRING);
	CU_ASSERT_PTR_EQUAL(q.p[0].buffer, str);
	UT_EQ_UINT(q.plen[0], 3);
	UT_EQ_INT(q.p[1].buffer_type, MYSQL_TYPE_LONGLONG);
	UT_EQ_INT(*(long long *)q.p[1].buffer, -5);
	UT_EQ_INT(q.p[2].buffer_type, MYSQL_TYPE_BLOB);
	CU_ASSERT_PTR_EQUAL(q.p[2].buffer, bytes);
	UT_EQ_UINT(q.plen[2], 3);
	UT_EQ_UINT(*q.p[2].length, 3);
	/* SQ_NULL and a NULL string both bind SQL NULL. */
	UT_EQ_INT(q.p[3].buffer_type, MYSQL_TYPE_NULL);
	UT_EQ_INT(*q.p[3].is_null, 1);
	UT_EQ_INT(q.p[4].buffer_type, MYSQL_TYPE_NULL);
	UT_EQ_INT(*q.p[4].is_null, 1);
	UT_EQ_INT(q.p[5].buffer_type, MYSQL_TYPE_LONGLONG);
	UT_EQ_INT(*(long long *)q.p[5].buffer, 42);
	sq_close(&q);
}

/* A NULL list binds nothing; a list goes on after binds already made. */
static void
test_bind_appends(void)
{
	memset(&q, 0, sizeof(q));
	UT_EQ_UINT(sq_bind(&q, NULL), 0);
	UT_EQ_UINT(q.np, 0);
	sq_int(&q, 7);
	UT_EQ_UINT(sq_bind(&q, SQ_ARGS(SQ_S("x"))), 1);
	UT_EQ_UINT(q.np, 2);
	UT_EQ_INT(*(long long *)q.p[0].buffer, 7);
	UT_EQ_INT(q.p[1].buffer_type, MYSQL_TYPE_STRING);
	UT_EQ_UINT(q.plen[1], 1);
	sq_close(&q);
}

/*
 * More parameters than SQ_MAX_PARAMS, or an argument not made by SQ_*,
 * mark q bad (sq_run then refuses it) and never write past p[].
 */
static void
test_bind_refuses(void)
{
	struct sq_arg many[SQ_MAX_PARAMS + 2];
	struct sq_arg odd[2];
	unsigned int  i;

	for (i = 0; i < SQ_MAX_PARAMS + 1; i++)
		many[i] = SQ_I(i);
	many[i] = (struct sq_arg){ .type = SQ_T_END };
	memset(&q, 0, sizeof(q));
	UT_EQ_UINT(sq_bind(&q, many), SQ_MAX_PARAMS + 1);
	UT_EQ_UINT(q.np, SQ_MAX_PARAMS);
	UT_EQ_INT(q.bad, 1);
	UT_EQ_INT(*(long long *)q.p[SQ_MAX_PARAMS - 1].buffer,
	    SQ_MAX_PARAMS - 1);
	sq_close(&q);

	memset(odd, 0, sizeof(odd));
	odd[0].type = (enum sq_type)99;
	memset(&q, 0, sizeof(q));
	sq_bind(&q, odd);
	UT_EQ_INT(q.bad, 1);
	UT_EQ_UINT(q.np, 0);
	sq_close(&q);
}

/*
 * A statement that does not fit SQ_MAX_SQL is refused while formatting,
 * before a connection is looked for (db is NULL here: reaching sq_open
 * would crash), and q is left closed.
 */
static void
test_sql_too_long(void)
{
	char *big;

	big = malloc(SQ_MAX_SQL + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'x', SQ_MAX_SQL);
	big[SQ_MAX_SQL] = '\0';
	UT_EQ_INT(sq_do(NULL, NULL, NULL, "%s", big), STORE_ERR);
	UT_EQ_INT(sq_do_on(NULL, SQ_ARGS(SQ_I(1)), "SELECT %s", big),
	    STORE_ERR);
	/* One byte over: the format adds to what fits on its own. */
	big[SQ_MAX_SQL - 1] = '\0';
	memset(&q, 0xff, sizeof(q));
	UT_EQ_INT(sq_rows(&q, NULL, NULL, NULL, "%s;", big), STORE_ERR);
	CU_ASSERT_PTR_NULL(q.st);
	UT_EQ_UINT(q.np, 0);
	UT_EQ_UINT(q.nr, 0);
	memset(&q, 0xff, sizeof(q));
	UT_EQ_INT(sq_one(&q, NULL, NULL, NULL, "%s%c", big, 'y'), STORE_ERR);
	CU_ASSERT_PTR_NULL(q.st);
	UT_EQ_INT(sq_one_on(&q, NULL, NULL, "%s%s", big, "z"), STORE_ERR);
	UT_EQ_INT(sq_rows_on(&q, NULL, NULL, "%s%d", big, 1), STORE_ERR);
	free(big);
}

/* sq_ctl names the control database the configuration gives. */
static void
test_ctl_is_config(void)
{
	struct config cfg;
	struct db    *db;
	char          name[] = "ctl_under_test";

	memset(&cfg, 0, sizeof(cfg));
	cfg.control_db = name;
	db = db_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	UT_EQ_STR(sq_ctl(db), "ctl_under_test");
	db_free(db);
}

static const struct ut_test tests[] = { { "ctl is config", test_ctl_is_config },
	{ "bind kinds", test_bind_kinds },
	{ "bind appends", test_bind_appends },
	{ "bind refuses", test_bind_refuses },
	{ "sql too long", test_sql_too_long },
	{ "collen clamped", test_collen_clamped },
	{ "close bounded", test_close_bounded },
	{ "close frees after loss", test_close_frees_after_loss },
	{ "text columns", test_text_columns },
	{ "text refuses params", test_text_refuses_params },
	{ "text on, too long", test_text_on_too_long }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "sql", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
