/* hl_parse: what [database] host and --db-host accept is what is tried. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "../../src/hostlist.h"
#include "harness.h"

static struct hl_host h[HL_MAX];
static char           err[256];

static int
parse(const char *list)
{
	memset(h, 0, sizeof(h));
	err[0] = '\0';
	return hl_parse(list, 3306, h, HL_MAX, err, sizeof(err));
}

static void
test_one_and_several(void)
{
	CU_ASSERT_EQUAL(parse("localhost"), 1);
	CU_ASSERT_STRING_EQUAL(h[0].name, "localhost");
	CU_ASSERT_EQUAL(h[0].port, 3306);
	CU_ASSERT_EQUAL(parse("db1.example:3307"), 1);
	CU_ASSERT_STRING_EQUAL(h[0].name, "db1.example");
	CU_ASSERT_EQUAL(h[0].port, 3307);
	CU_ASSERT_EQUAL(parse("127.0.0.1:33061, 127.0.0.1:33062 ,db3"), 3);
	CU_ASSERT_STRING_EQUAL(h[0].name, "127.0.0.1");
	CU_ASSERT_EQUAL(h[0].port, 33061);
	CU_ASSERT_EQUAL(h[1].port, 33062);
	CU_ASSERT_STRING_EQUAL(h[2].name, "db3");
	CU_ASSERT_EQUAL(h[2].port, 3306);
}

static void
test_ipv6(void)
{
	CU_ASSERT_EQUAL(parse("[::1]:3310,[fe80::1],::1"), 3);
	CU_ASSERT_STRING_EQUAL(h[0].name, "::1");
	CU_ASSERT_EQUAL(h[0].port, 3310);
	CU_ASSERT_STRING_EQUAL(h[1].name, "fe80::1");
	CU_ASSERT_EQUAL(h[1].port, 3306);
	CU_ASSERT_STRING_EQUAL(h[2].name, "::1");
	CU_ASSERT_EQUAL(h[2].port, 3306);
}

static void
test_refused(void)
{
	static const char *bad[] = { "", " ", "a,,b", "a,", ",a", "bad host!",
		"h:0", "h:65536", "h:", "h:12x", "h:-1", "[::1", "[::1]x",
		"[]:3306", "h;drop", "a,b,c,d,e,f,g,h,i", NULL };
	size_t             i;

	for (i = 0; bad[i]; i++) {
		if (parse(bad[i]) != -1)
			fprintf(stderr, "\naccepted \"%s\"\n", bad[i]);
		CU_ASSERT_EQUAL(parse(bad[i]), -1);
		CU_ASSERT(err[0] != '\0');
		CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	}
	CU_ASSERT_EQUAL(parse("a,b,c,d,e,f,g,h"), 8);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr((parse("ok, bad host"), err), "bad host"));
}

static const struct ut_test tests[] = { { "one and several",
	                                    test_one_and_several },
	{ "IPv6", test_ipv6 }, { "refused", test_refused }, { NULL, NULL } };
const struct ut_suite ut_suites[] = { { "hostlist", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
