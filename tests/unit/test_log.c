/* log_escape(): what a log line may contain, whatever the input was. */
#include <string.h>

#include <CUnit/Basic.h>

#include "../../src/log.h"
#include "harness.h"

static const struct {
	const char *in, *want;
} cases[] = {
	{ "GET /w/acme/settings", "GET /w/acme/settings" },
	/* C0 controls: no forged second line, no terminal escapes */
	{ "a\nb\rc\td", "a\\x0ab\\x0dc\\x09d" },
	{ "\x1b[31mred", "\\x1b[31mred" },
	{ "del\x7f", "del\\x7f" },
	/* C1 controls as raw bytes (NEL, CSI) */
	{ "\x85x\x9b", "\\x85x\\x9b" },
	/* U+0085 and U+009B as UTF-8, as a decoded path carries them */
	{ "/w/\xc2\x85/\xc2\x9b", "/w/\\xc2\\x85/\\xc2\\x9b" },
	/* U+202E RIGHT-TO-LEFT OVERRIDE */
	{ "/w/\xe2\x80\xaegnp.exe", "/w/\\xe2\\x80\\xaegnp.exe" },
	/* any non-ASCII byte, e.g. é */
	{ "caf\xc3\xa9", "caf\\xc3\\xa9" },
	/* the backslash itself, so "\x41" in input can't pass for 'A' */
	{ "\\x41", "\\x5cx41" },
	{ "", "" },
};

static void
test_escape_table(void)
{
	char   out[256];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = log_escape(out, sizeof(out), cases[i].in);
		if (strcmp(out, cases[i].want) != 0)
			fprintf(stderr,
			    "\ncase %zu: have \"%s\", want \"%s\"\n", i, out,
			    cases[i].want);
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
		CU_ASSERT_EQUAL(n, strlen(cases[i].want));
	}
}

static void
test_every_byte(void)
{
	char in[2], out[8];
	int  c;

	/* Every byte but printable ASCII comes out as 4 printable bytes. */
	for (c = 1; c < 256; c++) {
		in[0] = (char)c;
		in[1] = '\0';
		log_escape(out, sizeof(out), in);
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			CU_ASSERT_EQUAL(strlen(out), 1);
		} else {
			CU_ASSERT_EQUAL(strlen(out), 4);
			CU_ASSERT_EQUAL(out[0], '\\');
		}
		CU_ASSERT_EQUAL(
		    strspn(out,
		        " !\"#$%&'()*+,-./0123456789:;<=>?@"
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz"
		        "{|}~"),
		    strlen(out));
	}
}

static void
test_truncation(void)
{
	char out[6];

	/* "ab" fits; "\x0a" and its NUL would need 5 of the 4 bytes left. */
	CU_ASSERT_EQUAL(log_escape(out, sizeof(out), "ab\ncd"), 2);
	CU_ASSERT_STRING_EQUAL(out, "ab");
	CU_ASSERT_EQUAL(log_escape(out, sizeof(out), "abcdefgh"), 5);
	CU_ASSERT_STRING_EQUAL(out, "abcde");
	CU_ASSERT_EQUAL(log_escape(out, 1, "abc"), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static const struct ut_test tests[] = { { "escape table", test_escape_table },
	{ "every byte", test_every_byte }, { "truncation", test_truncation },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "log", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
