/*
 * The one main() of every unit test program (tests/unit/harness.c) and
 * the assertions that say have/want when they fail.
 *
 * A test program defines its suites and nothing else:
 *
 *	static const struct ut_test tests[] = {
 *		{ "simple pairs", test_simple_pairs },
 *		{ NULL, NULL }
 *	};
 *	const struct ut_suite ut_suites[] = {
 *		{ "request", NULL, NULL, NULL, tests },
 *		{ NULL, NULL, NULL, NULL, NULL }
 *	};
 *
 * main() registers them with CUnit, runs the basic interface in verbose
 * mode (its run summary is what scripts/test counts) and exits 1 on any
 * failure, 77 (automake: SKIP) when a suite's before() says so.
 */
#ifndef UT_HARNESS_H
#define UT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

#define UT_SKIP 77 /* before(): skip the whole program */

struct ut_test {
	const char *name;
	CU_TestFunc fn;
};

struct ut_suite {
	const char *name;
	/* Once, before CUnit starts: 0 goes on, UT_SKIP skips, else fails. */
	int (*before)(void);
	CU_InitializeFunc     init;    /* CUnit's, may be NULL */
	CU_CleanupFunc        cleanup; /* CUnit's, may be NULL */
	const struct ut_test *tests;   /* ends with a NULL name */
};

/* Defined by each test program; ends with a NULL name. */
extern const struct ut_suite ut_suites[];

/*
 * Names the table case the next failures belong to ("case 3: %2F"), so a
 * table-driven test says which row failed. Cleared before every test;
 * ut_case(NULL) clears it.
 */
void ut_case(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Each returns 1 when the check holds, 0 when not (after recording a
 * CUnit failure that shows both values), so a test can stop early:
 * if (!UT_EQ_INT(rc, 0)) return;
 * A NULL string is shown as NULL and equals only NULL.
 */
int ut_eq_str(const char *, const char *, const char *, const char *,
    unsigned int, const char *, const char *);
int ut_eq_mem(const void *, size_t, const void *, size_t, const char *,
    const char *, unsigned int, const char *, const char *);
int ut_eq_int(intmax_t, intmax_t, const char *, const char *, unsigned int,
    const char *, const char *);
int ut_eq_uint(uintmax_t, uintmax_t, const char *, const char *, unsigned int,
    const char *, const char *);
int ut_has_str(const char *, const char *, int, const char *, const char *,
    unsigned int, const char *, const char *);

#define UT_EQ_STR(have, want) \
	ut_eq_str((have), (want), #have, #want, __LINE__, __FILE__, __func__)
#define UT_EQ_MEM(have, hlen, want, wlen) \
	ut_eq_mem((have), (hlen), (want), (wlen), #have, #want, __LINE__, \
	    __FILE__, __func__)
#define UT_EQ_INT(have, want) \
	ut_eq_int((intmax_t)(have), (intmax_t)(want), #have, #want, __LINE__, \
	    __FILE__, __func__)
#define UT_EQ_UINT(have, want) \
	ut_eq_uint((uintmax_t)(have), (uintmax_t)(want), #have, #want, \
	    __LINE__, __FILE__, __func__)
/* The string hay contains (HAS) or lacks (LACKS) the string needle. */
#define UT_HAS_STR(hay, needle) \
	ut_has_str((hay), (needle), 1, #hay, #needle, __LINE__, __FILE__, \
	    __func__)
#define UT_LACKS_STR(hay, needle) \
	ut_has_str((hay), (needle), 0, #hay, #needle, __LINE__, __FILE__, \
	    __func__)

#endif /* UT_HARNESS_H */
