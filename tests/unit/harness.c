/*
 * The shared main() of the unit test programs: registers the suites the
 * program declares (ut_suites[]), runs CUnit's basic interface and turns
 * its failure count into the exit status automake reads. Also the
 * have/want assertions of harness.h, in the spirit of kcgi's regress/:
 * a failure says what the code gave and what the test expected.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "harness.h"

/* Enough to see where two values part; longer ones end with "...". */
#define SHOW_MAX 400

static char cur_case[128];

void
ut_case(const char *fmt, ...)
{
	va_list ap;

	if (fmt == NULL) {
		cur_case[0] = '\0';
		return;
	}
	va_start(ap, fmt);
	vsnprintf(cur_case, sizeof(cur_case), fmt, ap);
	va_end(ap);
}

/* CUnit's per-test setup: a label set by the previous test must not stick. */
static void
clear_case(void)
{
	cur_case[0] = '\0';
}

/*
 * Shows len bytes of p as a C string literal (quotes, \n, \xNN), at most
 * SHOW_MAX of them, into out; NULL shows as NULL.
 */
static void
show(char *out, size_t outsz, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t               i, o = 0;
	int                  n;

	if (p == NULL) {
		snprintf(out, outsz, "NULL");
		return;
	}
	out[o++] = '"';
	for (i = 0; i < len && i < SHOW_MAX && o + 8 < outsz; i++) {
		if (s[i] == '"' || s[i] == '\\')
			n = snprintf(out + o, outsz - o, "\\%c", s[i]);
		else if (s[i] == '\n')
			n = snprintf(out + o, outsz - o, "\\n");
		else if (s[i] == '\r')
			n = snprintf(out + o, outsz - o, "\\r");
		else if (isprint(s[i]))
			n = snprintf(out + o, outsz - o, "%c", s[i]);
		else
			n = snprintf(out + o, outsz - o, "\\x%02x", s[i]);
		o += (size_t)n;
	}
	snprintf(out + o, outsz - o, "\"%s", i < len ? "..." : "");
}

/*
 * Records the assertion with CUnit (which copies the message), formatting
 * the message only when it failed.
 */
static int report(int ok, unsigned int line, const char *file, const char *func,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
report(int ok, unsigned int line, const char *file, const char *func,
    const char *fmt, ...)
{
	char    msg[4 * SHOW_MAX * 2 + 512];
	size_t  o = 0;
	va_list ap;

	msg[0] = '\0';
	if (!ok) {
		if (cur_case[0] != '\0')
			o = (size_t)snprintf(msg, sizeof(msg), "[%s] ",
			    cur_case);
		va_start(ap, fmt);
		vsnprintf(msg + o, sizeof(msg) - o, fmt, ap);
		va_end(ap);
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, func,
	    CU_FALSE);
	return ok;
}

int
ut_eq_str(const char *have, const char *want, const char *hexpr,
    const char *wexpr, unsigned int line, const char *file, const char *func)
{
	char h[4 * SHOW_MAX + 8], w[4 * SHOW_MAX + 8];
	int  ok;

	ok = (have == NULL || want == NULL) ? have == want
	                                    : strcmp(have, want) == 0;
	if (!ok) {
		show(h, sizeof(h), have, have ? strlen(have) : 0);
		show(w, sizeof(w), want, want ? strlen(want) : 0);
	}
	return report(ok, line, file, func, "%s: have %s, want %s (%s)", hexpr,
	    ok ? "" : h, ok ? "" : w, wexpr);
}

int
ut_eq_mem(const void *have, size_t hlen, const void *want, size_t wlen,
    const char *hexpr, const char *wexpr, unsigned int line, const char *file,
    const char *func)
{
	char h[4 * SHOW_MAX + 8], w[4 * SHOW_MAX + 8];
	int  ok;

	if (have == NULL || want == NULL)
		ok = have == want;
	else
		ok = hlen == wlen && memcmp(have, want, hlen) == 0;
	if (!ok) {
		show(h, sizeof(h), have, hlen);
		show(w, sizeof(w), want, wlen);
	}
	return report(ok, line, file, func,
	    "%s: have %s (%zu bytes), want %s (%zu bytes, %s)", hexpr,
	    ok ? "" : h, hlen, ok ? "" : w, wlen, wexpr);
}

int
ut_eq_int(intmax_t have, intmax_t want, const char *hexpr, const char *wexpr,
    unsigned int line, const char *file, const char *func)
{
	return report(have == want, line, file, func,
	    "%s: have %jd, want %jd (%s)", hexpr, have, want, wexpr);
}

int
ut_eq_uint(uintmax_t have, uintmax_t want, const char *hexpr, const char *wexpr,
    unsigned int line, const char *file, const char *func)
{
	return report(have == want, line, file, func,
	    "%s: have %ju, want %ju (%s)", hexpr, have, want, wexpr);
}

int
ut_has_str(const char *hay, const char *needle, int want, const char *hexpr,
    const char *nexpr, unsigned int line, const char *file, const char *func)
{
	char h[4 * SHOW_MAX + 8], n[4 * SHOW_MAX + 8];
	int  found, ok;

	found = hay != NULL && needle != NULL && strstr(hay, needle) != NULL;
	ok = found == want;
	if (!ok) {
		show(h, sizeof(h), hay, hay ? strlen(hay) : 0);
		show(n, sizeof(n), needle, needle ? strlen(needle) : 0);
	}
	return report(ok, line, file, func, "%s: have %s, want it %s %s (%s)",
	    hexpr, ok ? "" : h, want ? "to contain" : "not to contain",
	    ok ? "" : n, nexpr);
}

int
main(void)
{
	const struct ut_suite *us;
	const struct ut_test  *ut;
	CU_pSuite              s;
	unsigned int           failures;
	int                    rc;

	/* Before the registry exists, so a skip leaves nothing to clean. */
	for (us = ut_suites; us->name != NULL; us++) {
		if (us->before == NULL)
			continue;
		if ((rc = us->before()) == UT_SKIP) {
			fprintf(stderr, "%s: skipped\n", us->name);
			return UT_SKIP;
		}
		if (rc != 0) {
			fprintf(stderr, "%s: before() failed\n", us->name);
			return 1;
		}
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (us = ut_suites; us->name != NULL; us++) {
		s = CU_add_suite_with_setup_and_teardown(us->name, us->init,
		    us->cleanup, clear_case, NULL);
		if (s == NULL)
			goto fail;
		for (ut = us->tests; ut->name != NULL; ut++)
			if (CU_add_test(s, ut->name, ut->fn) == NULL)
				goto fail;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
fail:
	fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return 1;
}
