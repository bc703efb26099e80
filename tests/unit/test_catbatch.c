/*
 * catbatch: the edge check of a Catalog Batch API push and the Graph
 * body it becomes; graph_catalog's answer parsers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "../../src/catbatch.h"
#include "../../src/graph.h"
#include "harness.h"

static int
check(const char *json, int *too_many, char *why, size_t len)
{
	struct json_object *o = json_tokener_parse(json);
	int                 rc = catbatch_check(o, too_many, why, len);

	json_object_put(o);
	return rc;
}

static void
test_check(void)
{
	static const struct {
		const char *body;
		int         rc;
		const char *why; /* part of the refusal */
	} cases[] = {
		{ "{\"requests\":[{\"method\":\"CREATE\",\"data\":{\"id\":\"a\"}}]}",
		    0, NULL },
		{ "{\"requests\":[{\"method\":\"UPDATE\",\"data\":{\"id\":\"a\","
		  "\"price\":\"1.00 USD\"}},{\"method\":\"DELETE\",\"data\":{"
		  "\"id\":\"b\"}}]}",
		    0, NULL },
		{ "{}", -1, "requests is required" },
		{ "{\"requests\":{}}", -1, "requests is required" },
		{ "{\"requests\":\"[]\"}", -1, "requests is required" },
		{ "{\"requests\":[]}", -1, "1 to 5000" },
		{ "{\"requests\":[1]}", -1, "requests[0]: must be an object" },
		{ "{\"requests\":[{\"method\":\"create\",\"data\":{\"id\":\"a\"}}]}",
		    -1, "requests[0]: method must be" },
		{ "{\"requests\":[{\"data\":{\"id\":\"a\"}}]}", -1,
		    "method is required" },
		{ "{\"requests\":[{\"method\":\"CREATE\"}]}", -1,
		    "data is required" },
		{ "{\"requests\":[{\"method\":\"CREATE\",\"data\":[]}]}", -1,
		    "data is required" },
		{ "{\"requests\":[{\"method\":\"CREATE\",\"data\":{}}]}", -1,
		    "data.id" },
		{ "{\"requests\":[{\"method\":\"CREATE\",\"data\":{\"id\":7}}]}",
		    -1, "data.id" },
		{ "{\"requests\":[{\"method\":\"CREATE\",\"data\":{\"id\":\"\"}}]}",
		    -1, "data.id" },
		{ "{\"requests\":[{\"method\":\"CREATE\",\"data\":{\"id\":\"a\"}},"
		  "{\"method\":\"DELETE\",\"data\":{\"id\":\"b\"},\"x\":1}]}",
		    -1, "requests[1]: only method and data" },
		{ "{\"requests\":[{\"retailer_id\":\"a\",\"method\":\"DELETE\","
		  "\"data\":{}}]}",
		    -1, "give the item's retailer id as data.id" },
	};
	char   why[300];
	int    too_many;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_case("%zu: %s", i, cases[i].body);
		why[0] = '\0';
		UT_EQ_INT(check(cases[i].body, &too_many, why, sizeof(why)),
		    cases[i].rc);
		UT_EQ_INT(too_many, 0);
		if (cases[i].why != NULL)
			UT_HAS_STR(why, cases[i].why);
	}
}

/* 100 bytes of id pass, 101 do not; 5000 requests pass, 5001 do not. */
static void
test_bounds(void)
{
	struct json_object *o, *reqs, *r, *d;
	char                why[300], id[CATBATCH_ID_MAX + 2];
	int                 too_many, i;

	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	o = json_object_new_object();
	reqs = json_object_new_array();
	json_object_object_add(o, "requests", reqs);
	r = json_object_new_object();
	d = json_object_new_object();
	json_object_object_add(r, "method", json_object_new_string("DELETE"));
	json_object_object_add(r, "data", d);
	json_object_object_add(d, "id", json_object_new_string(id));
	json_object_array_add(reqs, r);
	UT_EQ_INT(catbatch_check(o, &too_many, why, sizeof(why)), -1);
	id[CATBATCH_ID_MAX] = '\0';
	json_object_object_add(d, "id", json_object_new_string(id));
	UT_EQ_INT(catbatch_check(o, &too_many, why, sizeof(why)), 0);
	for (i = 1; i < CATBATCH_MAX_REQUESTS; i++)
		json_object_array_add(reqs, json_object_get(r));
	UT_EQ_INT(catbatch_check(o, &too_many, why, sizeof(why)), 0);
	json_object_array_add(reqs, json_object_get(r));
	UT_EQ_INT(catbatch_check(o, &too_many, why, sizeof(why)), -1);
	UT_EQ_INT(too_many, 1);
	UT_HAS_STR(why, "it has 5001");
	json_object_put(o);
}

static void
test_body(void)
{
	struct json_object *o = json_tokener_parse(
	    "{\"item_type\":\"ignored\",\"x\":1,\"requests\":[{\"method\":"
	    "\"UPDATE\",\"data\":{\"id\":\"a/b\",\"price\":\"1.00 USD\"}}]}");
	char *s = catbatch_body("PRODUCT_ITEM", o);

	UT_EQ_STR(s,
	    "{\"item_type\":\"PRODUCT_ITEM\",\"requests\":[{\"method\":"
	    "\"UPDATE\",\"data\":{\"id\":\"a/b\",\"price\":\"1.00 USD\"}}]}");
	free(s);
	json_object_put(o);
}

static void
test_parse_items_batch(void)
{
	static const char ok[] =
	    "{\"handles\":[\"AcxYz-_1\"],\"validation_status\":[{\"retailer_id\":"
	    "\"a\",\"errors\":[{\"message\":\"m\"}],\"warnings\":[]}]}";
	struct json_object *out;
	struct graph_err    e;

	UT_EQ_INT(graph_parse_items_batch(ok, strlen(ok), &out, &e), 0);
	UT_EQ_STR(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
	    ok);
	json_object_put(out);
	UT_EQ_INT(graph_parse_items_batch("{\"handles\":[]}", 14, &out, &e), 0);
	json_object_put(out);
	UT_EQ_INT(graph_parse_items_batch("{\"handles\":[1]}", 15, &out, &e),
	    -1);
	UT_EQ_INT(e.bad_response, 1);
	UT_EQ_INT(graph_parse_items_batch("{}", 2, &out, &e), -1);
	UT_EQ_INT(graph_parse_items_batch("{\"handles\":[]} x", 16, &out, &e),
	    -1);
	UT_EQ_INT(
	    graph_parse_items_batch("{\"handles\":[],\"validation_status\""
	                            ":{}}",
	        35, &out, &e),
	    -1);
}

static void
test_parse_batch_status(void)
{
	static const char fin[] =
	    "{\"data\":[{\"status\":\"finished\",\"errors_total_count\":1,"
	    "\"errors\":[{\"line\":0,\"id\":\"r-4\",\"message\":\"m\"}],"
	    "\"warnings\":[],\"ids_of_invalid_requests\":[\"r-4\"]}]}";
	struct json_object *out;
	struct graph_err    e;

	UT_EQ_INT(graph_parse_batch_status(fin, strlen(fin), &out, &e), 0);
	UT_EQ_STR(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
	    "{\"status\":\"finished\",\"errors_total_count\":1,\"errors\":[{"
	    "\"line\":0,\"id\":\"r-4\",\"message\":\"m\"}],\"warnings\":[],"
	    "\"ids_of_invalid_requests\":[\"r-4\"]}");
	json_object_put(out);
	UT_EQ_INT(graph_parse_batch_status("{\"data\":[]}", 11, &out, &e), 0);
	CU_ASSERT_PTR_NULL(out);
	UT_EQ_INT(graph_parse_batch_status("{\"data\":[{}]}", 13, &out, &e),
	    -1);
	UT_EQ_INT(graph_parse_batch_status("[]", 2, &out, &e), -1);
	UT_EQ_INT(graph_parse_batch_status("<html>", 6, &out, &e), -1);
	UT_EQ_INT(e.bad_response, 1);
}

static const struct ut_test tests[] = { { "requests checked", test_check },
	{ "limits: id bytes, request count", test_bounds },
	{ "the items_batch body", test_body },
	{ "items_batch answer", test_parse_items_batch },
	{ "check_batch_request_status answer", test_parse_batch_status },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "catbatch", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
