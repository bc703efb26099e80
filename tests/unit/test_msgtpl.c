/*
 * msgtpl (the template object a service submits, checked and rebuilt)
 * and graph_templates' parsers (Meta's template pages and its create
 * answer): table-driven, no network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "../../src/graph.h"
#include "../../src/msgtpl.h"
#include "harness.h"

#define BODY_OK "{\"type\":\"BODY\",\"text\":\"Hello {{1}}\"}"
#define TPL(name, more) \
	"{\"name\":\"" name "\",\"language\":\"en_US\"," \
	"\"category\":\"UTILITY\",\"components\":[" BODY_OK "]" more "}"

static int
check(const char *text, char **out, char *err, size_t errlen)
{
	struct json_object *o = json_tokener_parse(text);
	int                 rc;

	rc = msgtpl_json(o, out, err, errlen);
	json_object_put(o);
	return rc;
}

static void
test_good_templates_pass_whole(void)
{
	static const char *const good[] = {
		TPL("order_update", ""),
		TPL("a", ",\"allow_category_change\":true"),
		TPL("x_1", ",\"parameter_format\":\"NAMED\""),
		TPL("ttl", ",\"message_send_ttl_seconds\":3600"),
		"{\"name\":\"otp\",\"language\":\"fil\",\"category\":"
		"\"AUTHENTICATION\",\"components\":[{\"type\":\"BODY\","
		"\"add_security_recommendation\":true},{\"type\":\"FOOTER\","
		"\"code_expiration_minutes\":5},{\"type\":\"BUTTONS\","
		"\"buttons\":[{\"type\":\"OTP\",\"otp_type\":\"COPY_CODE\"}]}]}",
	};
	struct json_object *in, *back;
	char               *out, err[300];
	size_t              i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ut_case("good %zu", i);
		if (!UT_EQ_INT(check(good[i], &out, err, sizeof(err)), 0))
			continue;
		/* Everything sent is what was given, nothing added. */
		in = json_tokener_parse(good[i]);
		back = json_tokener_parse(out);
		CU_ASSERT(json_object_equal(in, back));
		json_object_put(in);
		json_object_put(back);
		free(out);
	}
}

static void
test_bad_templates_name_the_member(void)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "[]", "JSON object" },
		{ "{\"language\":\"en\",\"category\":\"UTILITY\","
		  "\"components\":[" BODY_OK "]}",
		    "name is required" },
		{ TPL("Order", ""), "name must be" },
		{ TPL("order-update", ""), "name must be" },
		{ TPL("", ""), "name must be" },
		{ "{\"name\":\"a\",\"language\":\"en-US\",\"category\":"
		  "\"UTILITY\",\"components\":[" BODY_OK "]}",
		    "language must be" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"TRANSACTIONAL\",\"components\":[" BODY_OK "]}",
		    "category must be" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"UTILITY\"}",
		    "components is required" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"UTILITY\",\"components\":[]}",
		    "1 to 10" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"UTILITY\",\"components\":{}}",
		    "must be an array" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"UTILITY\",\"components\":[{\"type\":\"FOOTER\","
		  "\"text\":\"x\"}]}",
		    "include a BODY" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"UTILITY\",\"components\":[" BODY_OK "," BODY_OK "]}",
		    "more than one BODY" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"UTILITY\",\"components\":[{\"type\":\"SIDEBAR\"}]}",
		    "components[0].type" },
		{ "{\"name\":\"a\",\"language\":\"en\",\"category\":"
		  "\"UTILITY\",\"components\":[{\"type\":\"BODY\","
		  "\"text\":5}]}",
		    "text must be a string" },
		{ TPL("a", ",\"waba_id\":\"102290129340398\""),
		    "waba_id is not a member" },
		{ TPL("a", ",\"allow_category_change\":\"yes\""),
		    "true or false" },
		{ TPL("a", ",\"parameter_format\":\"BOTH\""),
		    "POSITIONAL or NAMED" },
	};
	char  *out, err[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ut_case("bad %zu: %s", i, bad[i].why);
		out = (char *)"unchanged";
		UT_EQ_INT(check(bad[i].json, &out, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NULL(out);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].why));
	}
}

static void
test_text_limits_count_characters(void)
{
	char   buf[4096], body[2049], *out, err[300];
	size_t i;

	/* 1024 two-byte characters: within the body's 1024. */
	for (i = 0; i < 1024; i++)
		memcpy(body + 2 * i, "\xc3\xa9", 2);
	body[2 * 1024] = 0;
	snprintf(buf, sizeof(buf),
	    "{\"name\":\"a\",\"language\":\"fr\",\"category\":\"UTILITY\","
	    "\"components\":[{\"type\":\"BODY\",\"text\":\"%s\"}]}",
	    body);
	if (UT_EQ_INT(check(buf, &out, err, sizeof(err)), 0))
		free(out);
	snprintf(buf, sizeof(buf),
	    "{\"name\":\"a\",\"language\":\"fr\",\"category\":\"UTILITY\","
	    "\"components\":[{\"type\":\"HEADER\",\"format\":\"TEXT\","
	    "\"text\":\"%061d\"}," BODY_OK "]}",
	    0);
	UT_EQ_INT(check(buf, &out, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most 60"));
}

static void
test_name_and_language(void)
{
	char long_name[514];

	memset(long_name, 'a', 513);
	long_name[513] = '\0';
	UT_EQ_INT(msgtpl_name_ok(long_name, 513), 0);
	long_name[512] = '\0';
	UT_EQ_INT(msgtpl_name_ok(long_name, 512), 1);
	UT_EQ_INT(msgtpl_name_ok("a b", 3), 0);
	UT_EQ_INT(msgtpl_language_ok("en"), 1);
	UT_EQ_INT(msgtpl_language_ok("pt_BR"), 1);
	UT_EQ_INT(msgtpl_language_ok("fil"), 1);
	UT_EQ_INT(msgtpl_language_ok("e"), 0);
	UT_EQ_INT(msgtpl_language_ok("en_us"), 0);
	UT_EQ_INT(msgtpl_language_ok("en_USA"), 0);
	UT_EQ_INT(msgtpl_language_ok(""), 0);
}

static void
test_parse_templates_page(void)
{
	static const char page[] =
	    "{\"data\":[{\"id\":\"594425479261596\",\"name\":\"order\","
	    "\"language\":\"en_US\",\"status\":\"APPROVED\",\"category\":"
	    "\"UTILITY\",\"components\":[{\"type\":\"BODY\",\"text\":\"x\"}],"
	    "\"secret_extra\":\"dropped\",\"quality_score\":{\"score\":"
	    "\"GREEN\"}}],\"paging\":{\"cursors\":{\"before\":\"QQ\","
	    "\"after\":\"MjQZD\"},\"next\":\"https://graph/next\"}}";
	static const char last[] =
	    "{\"data\":[],\"paging\":{\"cursors\":{\"after\":\"MjQZD\"}}}";
	struct json_object *t, *first;
	struct graph_err    e;
	char                next[GRAPH_CURSOR_MAX];

	memset(&e, 0, sizeof(e));
	if (!UT_EQ_INT(graph_parse_templates(page, strlen(page), &t, next, &e),
	        0))
		return;
	UT_EQ_STR(next, "MjQZD");
	UT_EQ_UINT(json_object_array_length(t), 1);
	first = json_object_array_get_idx(t, 0);
	CU_ASSERT(!json_object_object_get_ex(first, "secret_extra", NULL));
	CU_ASSERT(json_object_object_get_ex(first, "components", NULL));
	CU_ASSERT(json_object_object_get_ex(first, "quality_score", NULL));
	json_object_put(t);
	UT_EQ_INT(graph_parse_templates(last, strlen(last), &t, next, &e), 0);
	UT_EQ_STR(next, "");
	json_object_put(t);
	/* A template without its id, or a next page without a cursor. */
	UT_EQ_INT(graph_parse_templates("{\"data\":[{\"name\":\"a\"}]}", 24, &t,
	              next, &e),
	    -1);
	CU_ASSERT(e.bad_response);
	CU_ASSERT_PTR_NULL(t);
	UT_EQ_INT(graph_parse_templates("{\"data\":[],\"paging\":{\"next\":"
	                                "\"x\"}}",
	              32, &t, next, &e),
	    -1);
}

static void
test_parse_created(void)
{
	static const char ok[] =
	    "{\"id\":\"572279198452421\",\"status\":\"PENDING\","
	    "\"category\":\"MARKETING\"}";
	struct graph_tpl_created c;
	struct graph_err         e;

	memset(&e, 0, sizeof(e));
	UT_EQ_INT(graph_parse_template_created(ok, strlen(ok), &c, &e), 0);
	UT_EQ_STR(c.id, "572279198452421");
	UT_EQ_STR(c.status, "PENDING");
	UT_EQ_STR(c.category, "MARKETING");
	UT_EQ_INT(graph_parse_template_created("{\"id\":\"x1\"}", 11, &c, &e),
	    -1);
	CU_ASSERT(e.bad_response);
}

static const struct ut_test tests[] = { { "good templates pass whole",
	                                    test_good_templates_pass_whole },
	{ "bad templates name the member", test_bad_templates_name_the_member },
	{ "text limits count characters", test_text_limits_count_characters },
	{ "name and language", test_name_and_language },
	{ "parse a page of templates", test_parse_templates_page },
	{ "parse the create answer", test_parse_created }, { NULL, NULL } };
const struct ut_suite ut_suites[] = { { "msgtpl", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
