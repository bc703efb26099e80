/* message: the edge check of a POST /messages body (msg_check). */
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "../../src/message.h"
#include "harness.h"

#define WAMID "wamid.HBgMNDkxNTExMjM0NTY3OBUCABIYFDNBQjEyMzQ1Njc4OTBBQkNERUYA"

static void
test_table(void)
{
	static const struct {
		const char *json;
		int         want; /* 0 taken, -1 refused */
		const char *says; /* in the refusal */
	} cases[] = {
		{ "{\"to\":\"4915112345678\",\"type\":\"text\","
		  "\"text\":{\"body\":\"hi\"}}",
		    0, NULL },
		{ "{\"to\":\"+4915112345678\",\"type\":\"image\","
		  "\"image\":{\"id\":\"1\"},\"from\":\"106540352242922\"}",
		    0, NULL },
		{ "{\"to\":\"US.13491208655302741918\",\"type\":\"text\","
		  "\"text\":{\"body\":\"hi\"}}",
		    0, NULL },
		{ "{\"to\":\"US.ENT.11815799212886844830\",\"type\":\"text\","
		  "\"text\":{\"body\":\"hi\"}}",
		    0, NULL },
		{ "{\"to\":\"120363025246125486@g.us\",\"recipient_type\":"
		  "\"group\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}",
		    0, NULL },
		{ "{\"to\":\"49151\",\"type\":\"contacts\",\"contacts\":"
		  "[{\"name\":{\"formatted_name\":\"A\"}}]}",
		    0, NULL },
		{ "{\"to\":\"49151\",\"type\":\"reaction\",\"reaction\":"
		  "{\"message_id\":\"" WAMID "\",\"emoji\":\"x\"},"
		  "\"context\":{\"message_id\":\"" WAMID "\"},"
		  "\"messaging_product\":\"whatsapp\","
		  "\"biz_opaque_callback_data\":\"t1\"}",
		    0, NULL },
		{ "[]", -1, "JSON object" },
		{ "{\"to\":\"49151\",\"type\":\"fax\",\"fax\":{}}", -1,
		    "type" },
		{ "{\"to\":\"49151\",\"type\":\"text\"}", -1, "text object" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":\"hi\"}", -1,
		    "text object" },
		{ "{\"to\":\"49151\",\"type\":\"contacts\",\"contacts\":[]}",
		    -1, "array" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":{},"
		  "\"image\":{}}",
		    -1, "another type" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":{},\"x\":1}",
		    -1, "x is not" },
		{ "{\"to\":\"4915\",\"type\":\"text\",\"text\":{}}", -1, "to" },
		{ "{\"to\":\"49151a\",\"type\":\"text\",\"text\":{}}", -1,
		    "to" },
		{ "{\"to\":\"us.123\",\"type\":\"text\",\"text\":{}}", -1,
		    "to" },
		{ "{\"to\":\"US.\",\"type\":\"text\",\"text\":{}}", -1, "to" },
		{ "{\"type\":\"text\",\"text\":{}}", -1, "to" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":{},"
		  "\"messaging_product\":\"sms\"}",
		    -1, "messaging_product" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":{},"
		  "\"recipient_type\":\"all\"}",
		    -1, "recipient_type" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":{},"
		  "\"context\":{\"message_id\":\"a b\"}}",
		    -1, "context" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":{},"
		  "\"context\":{}}",
		    -1, "context" },
		{ "{\"to\":\"49151\",\"type\":\"text\",\"text\":{},"
		  "\"from\":5}",
		    -1, "from" },
	};
	size_t i;
	char   err[300];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = json_tokener_parse(cases[i].json);

		ut_case("case %zu: %s", i, cases[i].json);
		err[0] = '\0';
		UT_EQ_INT(msg_check(o, err, sizeof(err)), cases[i].want);
		if (cases[i].says != NULL)
			CU_ASSERT(strstr(err, cases[i].says) != NULL);
		json_object_put(o);
	}
}

static const struct ut_test tests[] = { { "table", test_table },
	{ NULL, NULL } };
const struct ut_suite ut_suites[] = { { "message", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
