/* push_sign: the X-Waba-Signature-256 a receiver recomputes. */
#include <string.h>

#include <CUnit/Basic.h>
#include <sodium.h>

#include "../../src/push.h"
#include "harness.h"

static void
test_sign_rfc4231(void)
{
	/* RFC 4231, test case 2: key "Jefe". */
	static const char body[] = "what do ya want for nothing?";
	char              sig[PUSH_SIG_LEN + 1];

	CU_ASSERT_FATAL(sodium_init() >= 0);
	push_sign("Jefe", body, sizeof(body) - 1, sig);
	CU_ASSERT_STRING_EQUAL(sig,
	    "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
	    "64ec3843");
	CU_ASSERT_EQUAL(strlen(sig), PUSH_SIG_LEN);
	/* Every byte of the body counts, a NUL included. */
	push_sign("Jefe", "a\0b", 3, sig);
	CU_ASSERT_STRING_NOT_EQUAL(sig + 7, "");
	{
		char other[PUSH_SIG_LEN + 1];

		push_sign("Jefe", "a\0c", 3, other);
		CU_ASSERT_STRING_NOT_EQUAL(sig, other);
	}
}

static const struct ut_test tests[] = {
	{ "signature, RFC 4231 vector", test_sign_rfc4231 }, { NULL, NULL }
};
const struct ut_suite ut_suites[] = { { "push", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
