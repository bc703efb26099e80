/* apikey: the internal API's key format, header parsing, hash, scopes. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <sodium.h>

#include "../../src/apikey.h"
#include "harness.h"

static int
before(void)
{
	return sodium_init() < 0 ? 1 : 0;
}

#define HEX64 \
	"0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef"

static void
test_new_is_valid_and_random(void)
{
	char a[APIKEY_LEN + 1], b[APIKEY_LEN + 1];

	apikey_new(a);
	apikey_new(b);
	UT_EQ_UINT(strlen(a), 68);
	UT_EQ_INT(strncmp(a, "wck_", 4), 0);
	UT_EQ_INT(apikey_valid(a, strlen(a)), 1);
	UT_EQ_INT(apikey_valid(b, strlen(b)), 1);
	/* 256 random bits: two alike would be a broken generator. */
	CU_ASSERT(strcmp(a, b) != 0);
}

static void
test_valid_table(void)
{
	static const struct {
		const char *s;
		int         want;
	} cases[] = {
		{ "wck_" HEX64, 1 },
		{ "wck_" HEX64 "0", 0 }, /* too long */
		{ "wck_"
		  "123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdef",
		    0 },             /* short */
		{ "WCK_" HEX64, 0 }, /* prefix case */
		{ "wck-" HEX64, 0 },
		{ "wck_"
		  "0123456789ABCDEF0123456789abcdef"
		  "0123456789abcdef0123456789abcdef",
		    0 }, /* upper hex */
		{ "wck_"
		  "0123456789abcdeg0123456789abcdef"
		  "0123456789abcdef0123456789abcdef",
		    0 }, /* not hex */
		{ "", 0 },
		{ "wck_", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_case("case %zu: %s", i, cases[i].s);
		UT_EQ_INT(apikey_valid(cases[i].s, strlen(cases[i].s)),
		    cases[i].want);
	}
	/* len rules, not the NUL: a key with a NUL inside is refused. */
	UT_EQ_INT(apikey_valid("wck_" HEX64, 67), 0);
}

static void
test_from_header_table(void)
{
	static const struct {
		const char *hdr;
		int         ok;
	} cases[] = {
		{ "Bearer wck_" HEX64, 1 },
		{ "bearer wck_" HEX64, 1 },   /* RFC 7235: any case */
		{ "BEARER   wck_" HEX64, 1 }, /* 1*SP */
		{ "Bearer", 0 },
		{ "Bearer ", 0 },
		{ "Bearerwck_" HEX64, 0 },
		{ "Basic wck_" HEX64, 0 },
		{ "Bearer wck_" HEX64 " ", 0 }, /* nothing after */
		{ "Bearer wck_" HEX64 ",x", 0 },
		{ " Bearer wck_" HEX64, 0 },
		{ "Bearer\twck_" HEX64, 0 },
		{ "wck_" HEX64, 0 },
	};
	const char *k;
	size_t      i;

	CU_ASSERT_PTR_NULL(apikey_from_header(NULL));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_case("case %zu: \"%s\"", i, cases[i].hdr);
		k = apikey_from_header(cases[i].hdr);
		if (!cases[i].ok) {
			CU_ASSERT_PTR_NULL(k);
			continue;
		}
		UT_EQ_STR(k, "wck_" HEX64);
	}
}

/* SHA-256 of the 68 characters, checked against an outside tool. */
static void
test_hash_and_shown(void)
{
	unsigned char h[APIKEY_HASH_BYTES], want[APIKEY_HASH_BYTES];
	char          shown[APIKEY_SHOWN_LEN + 1];
	size_t        n;

	apikey_hash("wck_" HEX64, h);
	/* printf 'wck_0123...cdef' | sha256sum */
	CU_ASSERT_FATAL(
	    sodium_hex2bin(want, sizeof(want),
	        "6234899bfc4a85c004e9e3c6acd3d879bcf2a0d9154ecca6a7aceec0f3511034",
	        64, NULL, &n, NULL) == 0);
	UT_EQ_MEM(h, sizeof(h), want, sizeof(want));
	apikey_shown("wck_" HEX64, shown);
	UT_EQ_STR(shown, "wck_01234567");
}

static void
test_names(void)
{
	char long_name[80];

	UT_EQ_INT(apikey_name_valid("svc-inbox"), 1);
	UT_EQ_INT(apikey_name_valid("Campaigns_2.prod"), 1);
	UT_EQ_INT(apikey_name_valid(""), 0);
	UT_EQ_INT(apikey_name_valid("a b"), 0);
	UT_EQ_INT(apikey_name_valid("a/b"), 0);
	UT_EQ_INT(apikey_name_valid("caf\xc3\xa9"), 0);
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	UT_EQ_INT(apikey_name_valid(long_name), 1);
	long_name[64] = 'a';
	long_name[65] = '\0';
	UT_EQ_INT(apikey_name_valid(long_name), 0);
}

static void
test_scopes(void)
{
	static const char *const all =
	    "connection:read,messages:send,"
	    "templates:read,templates:write,media:write,catalog:write,"
	    "events:read";
	char     out[256], bad[80];
	unsigned m, i;

	UT_EQ_INT(apikey_scopes_parse(all, &m, bad, sizeof(bad)), 0);
	UT_EQ_UINT(m, (1u << APIKEY_NSCOPES) - 1);
	UT_EQ_INT(apikey_scopes_format(m, out, sizeof(out)), 0);
	UT_EQ_STR(out, all);
	/* Any order and repeats in; the canonical order out. */
	UT_EQ_INT(apikey_scopes_parse("events:read,connection:read,"
	                              "events:read",
	              &m, bad, sizeof(bad)),
	    0);
	UT_EQ_UINT(m, APIKEY_SCOPE_EVENTS_READ | APIKEY_SCOPE_CONNECTION_READ);
	UT_EQ_INT(apikey_scopes_format(m, out, sizeof(out)), 0);
	UT_EQ_STR(out, "connection:read,events:read");
	UT_EQ_INT(apikey_scopes_parse("connection:read,admin", &m, bad,
	              sizeof(bad)),
	    -1);
	UT_EQ_STR(bad, "admin");
	UT_EQ_UINT(m, 0);
	UT_EQ_INT(apikey_scopes_parse("", &m, bad, sizeof(bad)), -1);
	UT_EQ_INT(apikey_scopes_parse("connection:read,", &m, NULL, 0), -1);
	UT_EQ_INT(apikey_scopes_parse("Connection:Read", &m, NULL, 0), -1);
	UT_EQ_INT(apikey_scopes_parse(" connection:read", &m, NULL, 0), -1);
	UT_EQ_INT(apikey_scopes_format(APIKEY_SCOPE_MESSAGES_SEND, out, 5), -1);
	for (i = 0; i < APIKEY_NSCOPES; i++) {
		ut_case("bit %u", i);
		UT_EQ_UINT(apikey_scope_bit(apikey_scope_name(1u << i)),
		    1u << i);
	}
	CU_ASSERT_PTR_NULL(apikey_scope_name(0));
	CU_ASSERT_PTR_NULL(apikey_scope_name(3));
	CU_ASSERT_PTR_NULL(apikey_scope_name(1u << APIKEY_NSCOPES));
	UT_EQ_STR(apikey_scope_name(APIKEY_SCOPE_CONNECTION_READ),
	    "connection:read");
}

static const struct ut_test tests[] = {
	{ "new keys are valid and differ", test_new_is_valid_and_random },
	{ "the format, case by case", test_valid_table },
	{ "Authorization: Bearer", test_from_header_table },
	{ "hash and shown prefix", test_hash_and_shown },
	{ "key names", test_names }, { "scopes", test_scopes }, { NULL, NULL }
};

const struct ut_suite ut_suites[] = { { "apikey", before, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
