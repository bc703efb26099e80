/*
 * catbatch: the edge check of a Catalog Batch API push and the Graph
 * body it becomes (catbatch.h). Everything a push sends to Meta passes
 * catbatch_check first, so a malformed request is refused here with
 * its index, before any token is decrypted or Meta is called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "catbatch.h"
#include "request.h"

/* Meta's list ("Send Item Updates", item_type); VEHICLE_OFFER is the
   enum value the guide prints as "VEHICLE OFFER". */
const char *const catbatch_item_types[] = { "DESTINATION", "FLIGHT",
	"HOME_LISTING", "HOTEL", "HOTEL_ROOM", "PRODUCT_ITEM", "VEHICLE",
	"VEHICLE_OFFER", NULL };

static const char *const catbatch_methods[] = { "CREATE", "UPDATE", "DELETE",
	NULL };

static int
catbatch_fail(char *why, size_t whylen, size_t i, const char *what)
{
	snprintf(why, whylen, "requests[%zu]: %s", i, what);
	return -1;
}

/* One request: {"method": ..., "data": {"id": ..., ...}} and nothing else. */
static int
catbatch_one(struct json_object *r, size_t i, char *why, size_t whylen)
{
	struct json_object *m, *d, *id;
	const char         *s;
	size_t              k;
	int                 n = 0;

	if (!json_object_is_type(r, json_type_object))
		return catbatch_fail(why, whylen, i, "must be an object");
	json_object_object_foreach(r, key, val)
	{
		(void)val;
		if (strcmp(key, "method") != 0 && strcmp(key, "data") != 0) {
			/* /batch's request-level retailer_id is the usual
			   mistake: items_batch wants it as data.id. */
			return catbatch_fail(why, whylen, i,
			    strcmp(key, "retailer_id") == 0
			        ? "retailer_id is not an items_batch field; "
			          "give the item's retailer id as data.id"
			        : "only method and data are allowed");
		}
		n++;
	}
	if (!json_object_object_get_ex(r, "method", &m) ||
	    !json_object_is_type(m, json_type_string))
		return catbatch_fail(why, whylen, i,
		    "method is required (CREATE, UPDATE or DELETE)");
	s = json_object_get_string(m);
	for (k = 0; catbatch_methods[k] != NULL; k++)
		if (strcmp(s, catbatch_methods[k]) == 0)
			break;
	if (catbatch_methods[k] == NULL)
		return catbatch_fail(why, whylen, i,
		    "method must be CREATE, UPDATE or DELETE");
	if (!json_object_object_get_ex(r, "data", &d) ||
	    !json_object_is_type(d, json_type_object))
		return catbatch_fail(why, whylen, i,
		    "data is required and must be an object");
	if (!json_object_object_get_ex(d, "id", &id) ||
	    !json_object_is_type(id, json_type_string) ||
	    json_object_get_string_len(id) < 1 ||
	    (size_t)json_object_get_string_len(id) > CATBATCH_ID_MAX ||
	    !req_utf8_valid(json_object_get_string(id),
	        (size_t)json_object_get_string_len(id)))
		return catbatch_fail(why, whylen, i,
		    "data.id (the item's retailer id) is required: 1 to 100 "
		    "bytes of text");
	(void)n; /* both, and nothing else: counted above */
	return 0;
}

int
catbatch_check(struct json_object *body, int *too_many, char *why,
    size_t whylen)
{
	struct json_object *reqs;
	size_t              i, n;

	*too_many = 0;
	if (body == NULL ||
	    !json_object_object_get_ex(body, "requests", &reqs) ||
	    !json_object_is_type(reqs, json_type_array)) {
		snprintf(why, whylen,
		    "requests is required: an array of {\"method\",\"data\"}");
		return -1;
	}
	n = json_object_array_length(reqs);
	if (n == 0 || n > CATBATCH_MAX_REQUESTS) {
		*too_many = n > 0;
		snprintf(why, whylen,
		    "requests must hold 1 to %d requests (Meta's limit for one "
		    "items_batch call); it has %zu",
		    CATBATCH_MAX_REQUESTS, n);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (catbatch_one(json_object_array_get_idx(reqs, i), i, why,
		        whylen) == -1)
			return -1;
	return 0;
}

char *
catbatch_body(const char *item_type, struct json_object *body)
{
	struct json_object *o, *reqs;
	const char         *s;
	char               *out = NULL;

	if (!json_object_object_get_ex(body, "requests", &reqs) ||
	    (o = json_object_new_object()) == NULL)
		return NULL;
	if (json_object_object_add(o, "item_type",
	        json_object_new_string(item_type)) == 0 &&
	    json_object_object_add(o, "requests", json_object_get(reqs)) == 0 &&
	    (s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) !=
	        NULL)
		out = strdup(s);
	json_object_put(o);
	return out;
}
