/* jsonx: the tokener that parses Meta's answers leaves no token behind. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "../../src/buf.h"
#include "../../src/jsonx.h"
#include "harness.h"

#define TOKEN_LEN 3000

/* {"access_token":"EAAB…"} with a token long enough to need growing. */
static void
answer(struct buf *b)
{
	int i;

	buf_puts(b, "{\"access_token\":\"EAAB");
	for (i = 4; i < TOKEN_LEN; i++)
		buf_putc(b, (char)('a' + i % 26));
	buf_puts(b, "\",\"token_type\":\"bearer\"}");
}

static int
all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
test_tokener_never_moves(void)
{
	struct buf           b = BUF_INIT;
	struct json_tokener *tok;
	struct json_object  *o, *v;
	char                *before;
	int                  size;

	answer(&b);
	/*
	 * The hazard, so this test can tell: json-c's own tokener starts
	 * small and reallocs its string buffer while reading the token.
	 */
	tok = json_tokener_new_ex(8);
	before = tok->pb->buf;
	size = tok->pb->size;
	o = json_tokener_parse_ex(tok, b.data, (int)b.len);
	CU_ASSERT_PTR_NOT_NULL(o);
	CU_ASSERT(tok->pb->buf != before || tok->pb->size != size);
	json_object_put(o);
	json_tokener_free(tok);

	/* Ours has room up front: the buffer is where it was. */
	tok = jx_tokener_new(8, b.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	before = tok->pb->buf;
	size = tok->pb->size;
	CU_ASSERT(size > (int)b.len);
	o = json_tokener_parse_ex(tok, b.data, (int)b.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(json_tokener_get_error(tok), json_tokener_success);
	CU_ASSERT_PTR_EQUAL(tok->pb->buf, before);
	CU_ASSERT_EQUAL(tok->pb->size, size);
	CU_ASSERT(json_object_object_get_ex(o, "access_token", &v));
	CU_ASSERT_EQUAL(json_object_get_string_len(v), TOKEN_LEN);
	/* What the token left in the buffer is gone once wiped. */
	CU_ASSERT(memmem(tok->pb->buf, (size_t)tok->pb->size,
	              strstr(b.data, "EAAB") + 100, 40) != NULL);
	jx_tokener_wipe(tok);
	CU_ASSERT(all_zero(tok->pb->buf, (size_t)tok->pb->size));
	json_object_put(o);
	jx_tokener_free(tok);
	buf_free(&b);
}

static void
test_tokener_escapes(void)
{
	/* \u escapes decode shorter than they are written: still in place. */
	const char          *s = "{\"t\":\"\\u00e9\\ud83d\\ude00\\n\"}";
	struct json_tokener *tok;
	struct json_object  *o, *v;
	char                *before;

	tok = jx_tokener_new(8, strlen(s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	before = tok->pb->buf;
	o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_PTR_EQUAL(tok->pb->buf, before);
	CU_ASSERT(json_object_object_get_ex(o, "t", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v),
	    "\xc3\xa9\xf0\x9f\x98\x80\n");
	json_object_put(o);
	jx_tokener_free(tok);
}

/* jx_get gives the member only when it is there with the wanted type. */
static void
test_get(void)
{
	static const struct {
		const char    *key;
		enum json_type type;
		int            found;
	} t[] = {
		{ "s", json_type_string, 1 },
		{ "s", json_type_int, 0 },
		{ "n", json_type_int, 1 },
		{ "n", json_type_double, 0 },
		{ "n", json_type_string, 0 },
		{ "d", json_type_double, 1 },
		{ "b", json_type_boolean, 1 },
		{ "o", json_type_object, 1 },
		{ "a", json_type_array, 1 },
		{ "a", json_type_object, 0 },
		{ "z", json_type_null, 0 }, /* null is absent, not a value */
		{ "z", json_type_string, 0 },
		{ "missing", json_type_string, 0 },
		{ "", json_type_string, 1 },
	};
	struct json_object *o, *v;
	size_t              i;

	o = json_tokener_parse(
	    "{\"s\":\"x\",\"n\":7,\"d\":1.5,\"b\":false,"
	    "\"o\":{},\"a\":[1],\"z\":null,\"\":\"empty key\"}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s as %s", t[i].key, json_type_to_name(t[i].type));
		v = jx_get(o, t[i].key, t[i].type);
		UT_EQ_INT(v != NULL, t[i].found);
		if (v != NULL)
			UT_EQ_INT(json_object_get_type(v), t[i].type);
	}
	ut_case(NULL);
	UT_EQ_STR(json_object_get_string(jx_get(o, "", json_type_string)),
	    "empty key");
	/* Not an object (an answer that is an array, or nothing): NULL. */
	CU_ASSERT_PTR_NULL(jx_get(NULL, "s", json_type_string));
	CU_ASSERT_PTR_NULL(
	    jx_get(jx_get(o, "a", json_type_array), "s", json_type_string));
	CU_ASSERT_PTR_NULL(
	    jx_get(jx_get(o, "s", json_type_string), "s", json_type_string));
	json_object_put(o);
}

/* Optional fields may be absent or null; false, 0 and "" are present. */
static void
test_absent(void)
{
	static const struct {
		const char *key;
		int         absent;
	} t[] = {
		{ "missing", 1 },
		{ "z", 1 },
		{ "f", 0 },
		{ "zero", 0 },
		{ "e", 0 },
		{ "o", 0 },
	};
	struct json_object *o;
	size_t              i;

	o = json_tokener_parse("{\"z\":null,\"f\":false,\"zero\":0,"
	                       "\"e\":\"\",\"o\":{}}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s", t[i].key);
		UT_EQ_INT(jx_absent(o, t[i].key), t[i].absent);
	}
	json_object_put(o);
}

/* Sizes a tokener cannot promise are refused; NULL is safe to wipe. */
static void
test_tokener_limits(void)
{
	struct json_tokener *tok;

	CU_ASSERT_PTR_NULL(jx_tokener_new(8, (size_t)INT_MAX));
	CU_ASSERT_PTR_NULL(jx_tokener_new(8, (size_t)INT_MAX - 63));
	CU_ASSERT_PTR_NULL(jx_tokener_new(8, SIZE_MAX));
	tok = jx_tokener_new(8, 0);
	CU_ASSERT_PTR_NOT_NULL(tok);
	CU_ASSERT(tok == NULL || tok->pb->size >= 8);
	jx_tokener_free(tok);
	jx_tokener_wipe(NULL);
	jx_tokener_free(NULL);
}

/*
 * The depth given is the one enforced (json-c's default, 32, would take
 * both): with 3, json-c takes two levels of nesting, not three.
 */
static void
test_tokener_depth(void)
{
	static const struct {
		const char *text;
		int         ok;
	} t[] = {
		{ "[[1]]", 1 },
		{ "{\"a\":{\"b\":1}}", 1 },
		{ "[[[1]]]", 0 },
		{ "{\"a\":{\"b\":[1]}}", 0 },
	};
	struct json_tokener *tok;
	struct json_object  *o;
	size_t               i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s", t[i].text);
		tok = jx_tokener_new(3, strlen(t[i].text));
		CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
		o = json_tokener_parse_ex(tok, t[i].text,
		    (int)strlen(t[i].text));
		UT_EQ_INT(o != NULL, t[i].ok);
		UT_EQ_INT(json_tokener_get_error(tok),
		    t[i].ok ? json_tokener_success : json_tokener_error_depth);
		json_object_put(o);
		jx_tokener_free(tok);
	}
}

/*
 * jx_copy cuts on a character boundary: a field of size bytes holds at
 * most size - 1 bytes and never the first bytes of a character alone.
 * "\xe2\x82\xac" is U+20AC (3 bytes), "\xf0\x9f\x98\x80" U+1F600 (4).
 */
static void
test_copy(void)
{
	static const struct {
		const char *in;
		size_t      size;
		const char *want;
	} t[] = {
		{ "abc", 4, "abc" },  /* fits exactly */
		{ "abcd", 4, "abc" }, /* ASCII: cut anywhere */
		{ "", 1, "" },
		{ "abc", 1, "" },
		{ "a\xe2\x82\xac", 5, "a\xe2\x82\xac" },
		{ "a\xe2\x82\xac", 4, "a" }, /* not "a\xe2\x82" */
		{ "a\xe2\x82\xac", 3, "a" },
		{ "a\xe2\x82\xac", 2, "a" },
		{ "\xe2\x82\xac\xe2\x82\xac", 6, "\xe2\x82\xac" },
		{ "\xe2\x82\xac\xe2\x82\xac", 7, "\xe2\x82\xac\xe2\x82\xac" },
		{ "\xf0\x9f\x98\x80!", 5, "\xf0\x9f\x98\x80" },
		{ "\xf0\x9f\x98\x80!", 4, "" },
		{ "\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t" },
	};
	char   dst[16];
	size_t i, j;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("\"%s\" into %zu", t[i].in, t[i].size);
		memset(dst, 'X', sizeof(dst));
		jx_copy(dst, t[i].size, t[i].in);
		UT_EQ_STR(dst, t[i].want);
		/* Nothing written past the copy and its NUL. */
		for (j = strlen(dst) + 1; j < sizeof(dst); j++)
			if (!UT_EQ_INT(dst[j], 'X'))
				break;
	}
}

/* String members: absent, wrong-typed and NUL-carrying ones are NULL. */
static void
test_str(void)
{
	static const struct {
		const char *key;
		const char *want;
		size_t      len;
	} t[] = {
		{ "s", "x y", 3 },
		{ "e", "", 0 },
		{ "u", "\xc3\xa9", 2 },
		{ "nul", NULL, 0 }, /* "a\u0000b" would read as "a" */
		{ "n", NULL, 0 },
		{ "z", NULL, 0 },
		{ "missing", NULL, 0 },
	};
	struct json_object *o;
	const char         *s;
	size_t              i, len;

	o = json_tokener_parse("{\"s\":\"x y\",\"e\":\"\",\"u\":\"\\u00e9\","
	                       "\"nul\":\"a\\u0000b\",\"n\":7,\"z\":null}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ut_case("%s", t[i].key);
		len = 99;
		s = jx_str(o, t[i].key, &len);
		UT_EQ_STR(s, t[i].want);
		/* len is only written for a string that is returned. */
		UT_EQ_UINT(len, s != NULL ? t[i].len : 99);
		UT_EQ_STR(jx_str(o, t[i].key, NULL), t[i].want);
	}
	ut_case(NULL);
	CU_ASSERT_PTR_NULL(jx_str(NULL, "s", NULL));
	json_object_put(o);
}

/* Raw control characters in strings are not JSON (RFC 8259, 7). */
static void
test_strict_raw_control(void)
{
	static const char  *bad[] = { "{\"a\nb\":1}", "{\"a\":\"x\ty\"}",
		 "[\"\x01\"]", NULL };
	static const char  *good[] = { "{\"a\\nb\":1}", "{\"a\":\"x\\ty\"}",
		 "{\n\t\"a\" : \"\\\"\\\\\"\r\n}", NULL };
	struct json_object *o;
	char                err[128];
	int                 nomem, i;

	for (i = 0; bad[i]; i++) {
		o = jx_parse_strict(bad[i], strlen(bad[i]), 8, &nomem, err,
		    sizeof(err));
		CU_ASSERT_PTR_NULL(o);
		json_object_put(o);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "control character"));
	}
	for (i = 0; good[i]; i++) {
		o = jx_parse_strict(good[i], strlen(good[i]), 8, &nomem, err,
		    sizeof(err));
		if (o == NULL)
			fprintf(stderr, "\nrefused %s: %s\n", good[i], err);
		CU_ASSERT_PTR_NOT_NULL(o);
		json_object_put(o);
	}
}

/* A name from outside quoted in a message: printable, bounded. */
static void
test_name(void)
{
	char buf[JX_NAME_MAX + 4], tiny[4];

	CU_ASSERT_STRING_EQUAL(jx_name("colour", buf, sizeof(buf)), "colour");
	CU_ASSERT_STRING_EQUAL(jx_name("a\nb\x7f\xc3\xa9", buf, sizeof(buf)),
	    "a?b???");
	CU_ASSERT_STRING_EQUAL(
	    jx_name("0123456789012345678901234567890123456789"
	            "0123456789",
	        buf, sizeof(buf)),
	    "0123456789012345678901234567890123456789...");
	CU_ASSERT_STRING_EQUAL(jx_name("abcdef", tiny, sizeof(tiny)), "abc");
	CU_ASSERT_STRING_EQUAL(jx_name("", buf, sizeof(buf)), "");
}

static const struct ut_test tests[] = { { "tokener buffer never moves",
	                                    test_tokener_never_moves },
	{ "tokener with escapes", test_tokener_escapes },
	{ "typed member lookup", test_get }, { "absent or null", test_absent },
	{ "tokener size limits", test_tokener_limits },
	{ "tokener depth", test_tokener_depth },
	{ "bounded copy on a character boundary", test_copy },
	{ "string members", test_str },
	{ "strict: raw control characters", test_strict_raw_control },
	{ "names fit for a message", test_name }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "jsonx", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
