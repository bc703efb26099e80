/*
 * graph_catalog: the Catalog Batch API calls the internal API makes
 * with a workspace's catalog token (graph.h): POST
 * /{catalog_id}/items_batch and GET /{catalog_id}/check_batch_request_status,
 * on graph_do like every other call, and the parsers of their answers.
 * Kept apart from graph_calls.c: these answers are handed on to the
 * API's caller as Meta shaped them, so they are parsed into json-c
 * objects (checked for the members we rely on), not into structs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "buf.h"
#include "graph.h"
#include "graph_int.h"
#include "jsonx.h"

#define GC_DEPTH 32 /* product data nests a few levels at most */

static int
gc_bad(struct graph_err *err, const char *why)
{
	memset(err, 0, sizeof(*err));
	err->bad_response = 1;
	snprintf(err->message, sizeof(err->message), "%s", why);
	return -1;
}

static struct json_object *
gc_parse(const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object  *o = NULL;

	if (body == NULL || len == 0 || len > GRAPH_MAX_BODY || len > INT32_MAX)
		return NULL;
	if ((tok = json_tokener_new_ex(GC_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o != NULL &&
	    (json_tokener_get_error(tok) != json_tokener_success ||
	        json_tokener_get_parse_end(tok) != len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int
graph_parse_items_batch(const char *body, size_t len, struct json_object **out,
    struct graph_err *err)
{
	struct json_object *root, *h, *v;
	size_t              i;

	*out = NULL;
	if ((root = gc_parse(body, len)) == NULL)
		return gc_bad(err, "items_batch: the answer is not JSON");
	if ((h = jx_get(root, "handles", json_type_array)) == NULL)
		goto bad;
	for (i = 0; i < json_object_array_length(h); i++)
		if (!json_object_is_type(json_object_array_get_idx(h, i),
		        json_type_string))
			goto bad;
	if (!jx_absent(root, "validation_status") &&
	    jx_get(root, "validation_status", json_type_array) == NULL)
		goto bad;
	if ((*out = json_object_new_object()) == NULL) {
		json_object_put(root);
		return gc_bad(err, "out of memory");
	}
	json_object_object_add(*out, "handles", json_object_get(h));
	if ((v = jx_get(root, "validation_status", json_type_array)) != NULL)
		json_object_object_add(*out, "validation_status",
		    json_object_get(v));
	json_object_put(root);
	return 0;
bad:
	json_object_put(root);
	return gc_bad(err,
	    "items_batch: the answer has no handles array of "
	    "strings");
}

int
graph_parse_batch_status(const char *body, size_t len, struct json_object **out,
    struct graph_err *err)
{
	struct json_object *root, *data, *s;

	*out = NULL;
	if ((root = gc_parse(body, len)) == NULL)
		return gc_bad(err,
		    "check_batch_request_status: the answer is "
		    "not JSON");
	/* "the resulting collection always contains a single element" */
	if ((data = jx_get(root, "data", json_type_array)) == NULL) {
		json_object_put(root);
		return gc_bad(err,
		    "check_batch_request_status: the answer has "
		    "no data array");
	}
	if (json_object_array_length(data) == 0) {
		json_object_put(root);
		return 0; /* no such batch in this catalog */
	}
	s = json_object_array_get_idx(data, 0);
	if (!json_object_is_type(s, json_type_object) ||
	    jx_str(s, "status", NULL) == NULL) {
		json_object_put(root);
		return gc_bad(err,
		    "check_batch_request_status: data[0] has no "
		    "status");
	}
	*out = json_object_get(s);
	json_object_put(root);
	return 0;
}

/* One Catalog Batch API call with the catalog token and its proof. */
static int
gc_call(struct graph *g, const char *endpoint, const char *token,
    const char *catalog_id, const char *edge, const char *handle,
    const char *body, struct buf *resp, struct graph_err *err)
{
	struct buf        path = BUF_INIT;
	char              proof[65];
	const char *const params[] = { "appsecret_proof", proof,
		handle ? "handle" : NULL, handle,
		/* Else ids_of_invalid_requests is always [] (reference). */
		"load_ids_of_invalid_requests", "true", NULL };
	struct graph_req  r = { .endpoint = endpoint,
		 .params = params,
		 .token = token,
		 .ctype = body ? "application/json" : NULL,
		 .body = body,
		 .bodylen = body ? strlen(body) : 0,
		 /* A push is not idempotent (a CREATE twice is refused
		   the second time, an UPDATE may race a later one); a
		   status read is. */
		 .idempotent = body == NULL };
	int               rc;

	if (token == NULL || catalog_id == NULL) {
		memset(err, 0, sizeof(*err));
		snprintf(err->message, sizeof(err->message),
		    "no access token or catalog id");
		return -1;
	}
	if (buf_printf(&path, "%s/%s", catalog_id, edge) == -1)
		return gc_bad(err, "out of memory");
	r.path = buf_str(&path);
	graph_appsecret_proof(g->app_secret, token, proof);
	rc = graph_do(g, &r, resp, err);
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	return rc;
}

int
graph_items_batch(struct graph *g, const char *token, const char *catalog_id,
    const char *body, struct json_object **answer, struct graph_err *err)
{
	struct buf resp;
	int        rc;

	*answer = NULL;
	if (body == NULL)
		return gc_bad(err, "no body");
	if (gc_call(g, "items_batch", token, catalog_id, "items_batch", NULL,
	        body, &resp, err) == -1)
		return -1;
	rc = graph_parse_items_batch(resp.data, resp.len, answer, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_batch_status(struct graph *g, const char *token, const char *catalog_id,
    const char *handle, struct json_object **status, struct graph_err *err)
{
	struct buf resp;
	int        rc;

	*status = NULL;
	if (handle == NULL)
		return gc_bad(err, "no handle");
	if (gc_call(g, "check_batch_request_status", token, catalog_id,
	        "check_batch_request_status", handle, NULL, &resp, err) == -1)
		return -1;
	rc = graph_parse_batch_status(resp.data, resp.len, status, err);
	buf_free_secret(&resp);
	return rc;
}
