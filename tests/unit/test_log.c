/*
 * log: what a log line may contain, whatever the input was (log_escape),
 * the JSON format's escaping and lines, and the request id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

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

static void
test_json_str(void)
{
	static const struct {
		const char *in, *want;
	} js[] = {
		{ "plain", "plain" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "back\\slash", "back\\\\slash" },
		{ "nl\ntab\t", "nl\\u000atab\\u0009" },
		{ "\x01\x1f", "\\u0001\\u001f" },
		{ "", "" },
	};
	char   out[64];
	size_t i;

	for (i = 0; i < sizeof(js) / sizeof(js[0]); i++) {
		log_json_str(out, sizeof(out), js[i].in);
		UT_EQ_STR(out, js[i].want);
	}
	/* Never half an escape: 'a' fits, the quote's two bytes do not. */
	UT_EQ_UINT(log_json_str(out, 3, "a\"b"), 1);
	UT_EQ_STR(out, "a");
	UT_EQ_UINT(log_json_str(out, 6, "ab\n"), 2);
	UT_EQ_STR(out, "ab");
}

static void
test_request_id(void)
{
	char id[33];

	UT_EQ_INT(log_request_id_valid("abc-123_X.y:z"), 1);
	UT_EQ_INT(log_request_id_valid(""), 0);
	UT_EQ_INT(log_request_id_valid(NULL), 0);
	UT_EQ_INT(log_request_id_valid("with space"), 0);
	UT_EQ_INT(log_request_id_valid("new\nline"), 0);
	UT_EQ_INT(log_request_id_valid("quote\""), 0);
	UT_EQ_INT(
	    log_request_id_valid(
	        "0123456789012345678901234567890123456789012345678901234567890123"),
	    1);
	UT_EQ_INT(
	    log_request_id_valid(
	        "01234567890123456789012345678901234567890123456789012345678901234"),
	    0);
	log_request_id_make(id);
	UT_EQ_UINT(strlen(id), 32);
	UT_EQ_UINT(strspn(id, "0123456789abcdef"), 32);
	UT_EQ_INT(log_request_id_valid(id), 1);
}

/* What log_info writes to stderr, run with fd 2 on a temporary file. */
static char *
capture(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int   saved = dup(2);
	long  n;
	char *text;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = ftell(tmp);
	rewind(tmp);
	text = calloc(1, (size_t)n + 1);
	if (text != NULL && fread(text, 1, (size_t)n, tmp) != (size_t)n)
		text[0] = '\0';
	fclose(tmp);
	return text;
}

static void
emit_lines(void)
{
	log_set_request_id("rid-1");
	log_info("GET %s 200", "/w/a\"b\\c\n\xe2\x80\xae");
	log_set_request_id(NULL);
	log_warn("no request");
}

static void
test_json_lines(void)
{
	struct json_object *o, *v;
	char               *text, *nl, *line;
	int                 n = 0;

	log_set_format(1);
	text = capture(emit_lines);
	log_set_format(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	for (line = text; *line; line = nl + 1, n++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(nl = strchr(line, '\n'));
		*nl = '\0';
		o = json_tokener_parse(line);
		CU_ASSERT_PTR_NOT_NULL_FATAL(o);
		CU_ASSERT(json_object_object_get_ex(o, "ts", &v));
		CU_ASSERT(json_object_object_get_ex(o, "pid", &v) &&
		    json_object_is_type(v, json_type_int));
		CU_ASSERT(json_object_object_get_ex(o, "msg", &v));
		if (n == 0) {
			UT_EQ_STR(json_object_get_string(v),
			    "GET /w/a\"b\\x5cc\\x0a\\xe2\\x80\\xae 200");
			CU_ASSERT(
			    json_object_object_get_ex(o, "request_id", &v));
			UT_EQ_STR(json_object_get_string(v), "rid-1");
			CU_ASSERT(json_object_object_get_ex(o, "level", &v));
			UT_EQ_STR(json_object_get_string(v), "info");
		} else
			CU_ASSERT(
			    !json_object_object_get_ex(o, "request_id", &v));
		json_object_put(o);
	}
	UT_EQ_INT(n, 2);
	free(text);
}

static void
emit_text(void)
{
	log_set_request_id("rid-2");
	log_info("hello");
	log_set_request_id(NULL);
	log_info("bye");
}

static void
test_text_lines(void)
{
	char *text = capture(emit_text);

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(text, "] info: hello request_id=rid-2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "] info: bye\n"));
	free(text);
}

static const struct ut_test tests[] = { { "escape table", test_escape_table },
	{ "every byte", test_every_byte }, { "truncation", test_truncation },
	{ "json string", test_json_str }, { "request id", test_request_id },
	{ "json lines", test_json_lines }, { "text lines", test_text_lines },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "log", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
