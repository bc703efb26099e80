/*
 * graph_templates: the message_templates edge of a WhatsApp Business
 * Account (list one page, create, delete) and the parsers of its
 * answers, for the internal API's template routes (doc/contract.md,
 * Internal API). A file of its own because the gateway's calls answer
 * with Meta's objects nearly whole (a template's components go to the
 * template editor as Meta keeps them), where the connection flow's
 * calls in graph_calls.c reduce every answer to a few typed fields.
 *
 * Reference: WhatsApp Business Management API, "Message Templates"
 * (GET / POST / DELETE /{waba_id}/message_templates) and "Template
 * management" (delete by name, or by name and hsm_id).
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

/* A filter or cursor is at most this long in our URL (a name is 512). */
#define GT_PARAM_MAX 600

/* The members of a template we pass on, with the type each must have;
   one of another type is left out rather than failing the page. */
static const struct {
	const char    *name;
	enum json_type type;
	int            required;
} gt_members[] = {
	{ "id", json_type_string, 1 },
	{ "name", json_type_string, 1 },
	{ "language", json_type_string, 1 },
	{ "status", json_type_string, 1 },
	{ "category", json_type_string, 1 },
	{ "components", json_type_array, 0 },
	{ "quality_score", json_type_object, 0 },
	{ "rejected_reason", json_type_string, 0 },
	{ "parameter_format", json_type_string, 0 },
};

static int
gt_bad(struct graph_err *err, const char *what)
{
	err->bad_response = 1;
	err->transient = 0;
	snprintf(err->message, sizeof(err->message),
	    "Meta's answer has no valid %s", what);
	return -1;
}

static int
gt_is_id(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n < 33 && strspn(s, "0123456789") == n;
}

/* One of Meta's template objects, reduced to gt_members; NULL if bad. */
static struct json_object *
gt_template(struct json_object *t)
{
	struct json_object *out, *v;
	size_t              i;

	if (!json_object_is_type(t, json_type_object) ||
	    !gt_is_id(jx_str(t, "id", NULL)) ||
	    (out = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < sizeof(gt_members) / sizeof(gt_members[0]); i++) {
		v = jx_get(t, gt_members[i].name, gt_members[i].type);
		if (v == NULL && gt_members[i].required) {
			json_object_put(out);
			return NULL;
		}
		if (v != NULL &&
		    json_object_object_add(out, gt_members[i].name,
		        json_object_get(v)) != 0) {
			json_object_put(out);
			return NULL;
		}
	}
	return out;
}

int
graph_parse_templates(const char *body, size_t len,
    struct json_object **templates, char next[GRAPH_CURSOR_MAX],
    struct graph_err *err)
{
	struct json_object *root, *data, *paging, *cur, *arr = NULL, *t;
	const char         *s;
	size_t              i, n;
	int                 rc = -1;

	*templates = NULL;
	next[0] = '\0';
	if ((root = graph_json_parse(body, len)) == NULL)
		return gt_bad(err, "JSON");
	if ((data = jx_get(root, "data", json_type_array)) == NULL) {
		gt_bad(err, "\"data\" (an array expected)");
		goto out;
	}
	if ((arr = json_object_new_array()) == NULL) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		goto out;
	}
	n = json_object_array_length(data);
	for (i = 0; i < n; i++) {
		if ((t = gt_template(json_object_array_get_idx(data, i))) ==
		    NULL) {
			gt_bad(err,
			    "template in \"data\" (id, name, language, "
			    "status and category expected)");
			goto out;
		}
		json_object_array_add(arr, t);
	}
	/* Meta sends cursors on every page; only "next" says there is more. */
	if ((paging = jx_get(root, "paging", json_type_object)) != NULL &&
	    !jx_absent(paging, "next")) {
		cur = jx_get(paging, "cursors", json_type_object);
		if ((s = jx_str(cur, "after", NULL)) == NULL || *s == '\0' ||
		    strlen(s) >= GRAPH_CURSOR_MAX) {
			gt_bad(err, "\"paging.cursors.after\"");
			goto out;
		}
		memcpy(next, s, strlen(s) + 1);
	}
	*templates = arr;
	arr = NULL;
	rc = 0;
out:
	json_object_put(arr);
	json_object_put(root);
	return rc;
}

int
graph_parse_template_created(const char *body, size_t len,
    struct graph_tpl_created *out, struct graph_err *err)
{
	struct json_object *root;
	const char         *id, *status, *category;
	int                 rc = -1;

	memset(out, 0, sizeof(*out));
	if ((root = graph_json_parse(body, len)) == NULL)
		return gt_bad(err, "JSON");
	id = jx_str(root, "id", NULL);
	status = jx_str(root, "status", NULL);
	category = jx_str(root, "category", NULL);
	if (!gt_is_id(id))
		gt_bad(err, "\"id\" (a template id expected)");
	else if (status == NULL || *status == '\0' ||
	    strlen(status) >= sizeof(out->status))
		gt_bad(err, "\"status\"");
	else if (category == NULL || *category == '\0' ||
	    strlen(category) >= sizeof(out->category))
		gt_bad(err, "\"category\"");
	else {
		memcpy(out->id, id, strlen(id) + 1);
		memcpy(out->status, status, strlen(status) + 1);
		memcpy(out->category, category, strlen(category) + 1);
		rc = 0;
	}
	json_object_put(root);
	return rc;
}

/*
 * One call on {waba_id}/message_templates: params after the proof
 * (key, value pairs, NULL-ended; a NULL value is skipped), the body when
 * posting. The answer's body into resp (0), as graph_do.
 */
static int
gt_call(struct graph *g, const char *endpoint, const char *token,
    const char *waba_id, const char *const *params, const char *json,
    enum graph_method method, int idempotent, struct buf *resp,
    struct graph_err *err)
{
	struct buf       path = BUF_INIT;
	char             proof[65];
	const char      *all[16] = { "appsecret_proof", proof };
	struct graph_req r = { .endpoint = endpoint,
		.params = all,
		.token = token,
		.ctype = json != NULL ? "application/json" : NULL,
		.body = json,
		.bodylen = json != NULL ? strlen(json) : 0,
		.idempotent = idempotent,
		.method = method };
	size_t           i, n = 2;
	int              rc;

	if (token == NULL || !gt_is_id(waba_id))
		return graph_fail(err, "no access token or WABA id");
	/* A filter not asked for is left out of the query. */
	for (i = 0; params != NULL && params[i] != NULL; i += 2) {
		if (params[i + 1] == NULL)
			continue;
		if (n + 2 >= sizeof(all) / sizeof(all[0]) ||
		    strlen(params[i + 1]) > GT_PARAM_MAX)
			return graph_fail(err, "a template filter is too long");
		all[n++] = params[i];
		all[n++] = params[i + 1];
	}
	if (buf_printf(&path, "%s/message_templates", waba_id) == -1)
		return graph_fail(err, "out of memory");
	r.path = buf_str(&path);
	graph_appsecret_proof(g->app_secret, token, proof);
	rc = graph_do(g, &r, resp, err);
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	return rc;
}

int
graph_templates(struct graph *g, const char *token, const char *waba_id,
    const struct graph_tpl_query *q, struct json_object **templates,
    char next[GRAPH_CURSOR_MAX], struct graph_err *err)
{
	char              limit[12];
	const char *const params[] = { "fields", GRAPH_TEMPLATE_FIELDS,
		"status", q->status, "name", q->name, "after", q->after,
		"limit", q->limit > 0 ? limit : NULL, NULL };
	struct buf        resp;
	int               rc;

	*templates = NULL;
	next[0] = '\0';
	snprintf(limit, sizeof(limit), "%u", q->limit);
	if (gt_call(g, "message_templates", token, waba_id, params, NULL,
	        GRAPH_BY_BODY, 1, &resp, err) == -1)
		return -1;
	rc = graph_parse_templates(resp.data, resp.len, templates, next, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_template_create(struct graph *g, const char *token, const char *waba_id,
    const char *json, struct graph_tpl_created *out, struct graph_err *err)
{
	struct buf resp;
	int        rc;

	memset(out, 0, sizeof(*out));
	if (json == NULL)
		return graph_fail(err, "no template to create");
	if (gt_call(g, "create_template", token, waba_id, NULL, json,
	        GRAPH_BY_BODY, 0, &resp, err) == -1)
		return -1;
	rc = graph_parse_template_created(resp.data, resp.len, out, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_template_delete(struct graph *g, const char *token, const char *waba_id,
    const char *name, const char *hsm_id, struct graph_err *err)
{
	const char *const params[] = { "name", name, "hsm_id", hsm_id, NULL };
	struct buf        resp;
	int               rc;

	if (name == NULL || *name == '\0')
		return graph_fail(err, "no template name");
	if (gt_call(g, "delete_template", token, waba_id, params, NULL,
	        GRAPH_DELETE, 0, &resp, err) == -1)
		return -1;
	rc = graph_parse_success(resp.data, resp.len, err);
	buf_free_secret(&resp);
	return rc;
}
