/* buf: the byte buffer everything else is built on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "../../src/buf.h"
#include "harness.h"

static void
test_empty(void)
{
	struct buf b = BUF_INIT;
	char      *p;

	UT_EQ_STR(buf_str(&b), "");
	UT_EQ_UINT(b.len, 0);
	CU_ASSERT_PTR_NULL(b.data);
	/* Detaching nothing still gives the caller a string to free. */
	p = buf_detach(&b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	UT_EQ_STR(p, "");
	free(p);
}

/* len is authoritative: bytes after a NUL count, and a NUL always ends. */
static void
test_append_nul(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_EQUAL(buf_append(&b, "a\0b", 3), 0);
	CU_ASSERT_EQUAL(buf_putc(&b, '\0'), 0);
	CU_ASSERT_EQUAL(buf_puts(&b, "cd"), 0);
	UT_EQ_MEM(b.data, b.len, "a\0b\0cd", 6);
	UT_EQ_INT(b.data[b.len], '\0');
	CU_ASSERT_EQUAL(buf_append(&b, NULL, 0), 0);
	UT_EQ_UINT(b.len, 6);
	buf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
	UT_EQ_UINT(b.len, 0);
	UT_EQ_UINT(b.cap, 0);
}

/* Many small appends across several reallocs keep every byte in order. */
static void
test_growth(void)
{
	struct buf b = BUF_INIT;
	char       want[5000];
	size_t     i;

	for (i = 0; i < sizeof(want) - 1; i++) {
		want[i] = (char)('a' + i % 26);
		if (buf_putc(&b, want[i]) == -1)
			break;
	}
	want[i] = '\0';
	UT_EQ_UINT(b.len, sizeof(want) - 1);
	CU_ASSERT(b.cap > b.len);
	UT_EQ_STR(buf_str(&b), want);
	buf_free(&b);
}

/* After buf_reserve(n), n bytes go in without the data moving. */
static void
test_reserve(void)
{
	static const size_t ns[] = { 1, 63, 64, 65, 1000, 4096 };
	struct buf          b = BUF_INIT;
	const char         *before;
	size_t              i, k;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		ut_case("reserve %zu", ns[i]);
		CU_ASSERT_EQUAL(buf_reserve(&b, ns[i]), 0);
		CU_ASSERT(b.cap >= ns[i] + 1);
		before = b.data;
		for (k = 0; k < ns[i]; k++)
			buf_putc(&b, 'x');
		UT_EQ_UINT(b.len, ns[i]);
		CU_ASSERT_PTR_EQUAL(b.data, before);
		buf_free(&b);
	}
}

/* A size that cannot be met is refused and leaves the buffer as it was. */
static void
test_overflow(void)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "keep");
	CU_ASSERT_EQUAL(buf_append(&b, "x", SIZE_MAX), -1);
	CU_ASSERT_EQUAL(buf_append(&b, "x", SIZE_MAX - 4), -1);
	CU_ASSERT_EQUAL(buf_reserve(&b, SIZE_MAX), -1);
	UT_EQ_STR(buf_str(&b), "keep");
	UT_EQ_UINT(b.len, 4);
	buf_free(&b);
}

static void
test_printf(void)
{
	static const struct {
		const char *s;
		int         n;
		const char *want;
	} t[] = {
		{ "", 0, "=0;" },
		{ "a", -1, "a=-1;" },
		{ "percent %d", 2147483647, "percent %d=2147483647;" },
	};
	struct buf b = BUF_INIT;
	char       big[3000];
	size_t     i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%zu: %s", i, t[i].want);
		buf_reset(&b);
		CU_ASSERT_EQUAL(buf_printf(&b, "%s=%d;", t[i].s, t[i].n), 0);
		UT_EQ_STR(buf_str(&b), t[i].want);
		UT_EQ_UINT(b.len, strlen(t[i].want));
	}
	ut_case(NULL);
	/* Appends, and grows past the first allocation in one call. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_reset(&b);
	buf_puts(&b, "<");
	CU_ASSERT_EQUAL(buf_printf(&b, "%s>", big), 0);
	UT_EQ_UINT(b.len, sizeof(big) + 1);
	UT_EQ_INT(b.data[0], '<');
	UT_EQ_INT(b.data[b.len - 1], '>');
	UT_EQ_INT(b.data[b.len], '\0');
	UT_EQ_UINT(strlen(b.data), b.len);
	buf_free(&b);
}

/* reset keeps the memory for the next use; detach hands it over. */
static void
test_reset_detach(void)
{
	struct buf  b = BUF_INIT;
	const char *before;
	size_t      cap;
	char       *p;

	buf_puts(&b, "hello");
	before = b.data;
	cap = b.cap;
	buf_reset(&b);
	UT_EQ_UINT(b.len, 0);
	UT_EQ_STR(buf_str(&b), "");
	CU_ASSERT_PTR_EQUAL(b.data, before);
	UT_EQ_UINT(b.cap, cap);
	buf_puts(&b, "again");
	p = buf_detach(&b);
	CU_ASSERT_PTR_EQUAL(p, before);
	UT_EQ_STR(p, "again");
	CU_ASSERT_PTR_NULL(b.data);
	UT_EQ_UINT(b.len, 0);
	UT_EQ_UINT(b.cap, 0);
	free(p);
	/* free_secret leaves an empty, reusable buf. */
	buf_puts(&b, "s3cret");
	buf_free_secret(&b);
	CU_ASSERT_PTR_NULL(b.data);
	UT_EQ_UINT(b.len, 0);
	buf_free_secret(&b);
	UT_EQ_STR(buf_str(&b), "");
}

static const struct ut_test tests[] = { { "empty", test_empty },
	{ "append with NULs", test_append_nul }, { "growth", test_growth },
	{ "reserve", test_reserve }, { "overflow refused", test_overflow },
	{ "printf", test_printf }, { "reset and detach", test_reset_detach },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "buf", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
