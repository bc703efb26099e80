/*
 * The internal API's JSON bodies as the gateway takes them: the strict
 * parser (jx_parse_strict, as app.c runs it with APP_JSON_DEPTH 32), then
 * each route's check: a message (msg_check, POST /messages), a template
 * (msgtpl_json, POST /templates) and a catalog batch (catbatch_check and
 * catbatch_body, POST /catalog/items). A refusal says why in one line; an
 * accepted template or batch turns into JSON that parses again.
 */
#include <json-c/json.h>

#include "catbatch.h"
#include "fuzz.h"
#include "jsonx.h"
#include "message.h"
#include "msgtpl.h"

#define DEPTH 32 /* app.c's APP_JSON_DEPTH */

static void
check_why(int rc, const char *why, size_t size)
{
	FUZZ_CHECK(memchr(why, '\0', size) != NULL);
	if (rc != 0) {
		FUZZ_CHECK(why[0] != '\0');
		FUZZ_CHECK(strchr(why, '\n') == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o, *again;
	char                why[512], *out = NULL, *body;
	int                 nomem = 0, too_many = 0, rc;

	o = jx_parse_strict((const char *)data, size, DEPTH, &nomem, why,
	    sizeof(why));
	if (o == NULL)
		return 0;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return 0;
	}
	why[0] = '\0';
	rc = msg_check(o, why, sizeof(why));
	check_why(rc, why, sizeof(why));

	why[0] = '\0';
	rc = msgtpl_json(o, &out, why, sizeof(why));
	check_why(rc, why, sizeof(why));
	if (rc == 0) {
		FUZZ_CHECK(out != NULL);
		again = json_tokener_parse(out);
		FUZZ_CHECK(again != NULL);
		json_object_put(again);
	}
	free(out);

	why[0] = '\0';
	rc = catbatch_check(o, &too_many, why, sizeof(why));
	check_why(rc, why, sizeof(why));
	if (rc == 0) {
		body = catbatch_body("PRODUCT_ITEM", o);
		FUZZ_CHECK(body != NULL);
		free(body);
	}
	json_object_put(o);
	return 0;
}
