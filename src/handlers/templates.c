/*
 * The internal API's template routes (doc/contract.md, Internal API):
 * list a page of the WABA's message templates, submit one, delete one.
 * A file of its own as the template editor's part of the gateway. The
 * WABA id is the stored connection's, never anything the caller sent;
 * the token is decrypted for the one call and wiped right after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../app.h"
#include "../graph.h"
#include "../log.h"
#include "../msgtpl.h"
#include "../request.h"
#include "../store/connection.h"
#include "../vault.h"
#include "handlers.h"

/* Meta's page size is at most 100 templates; ours is too. */
#define TPL_LIMIT_MAX 100

/* The connection's WABA and token, or ANSWERED (409, 503, 500). */
static enum answer
tpl_access(struct ctx *c, struct conn_row *r, struct vault_secret *tok)
{
	if (api_ready_token(c, r, tok) == ANSWERED)
		return ANSWERED;
	if (*r->waba_id == '\0') {
		vault_secret_free(tok);
		return api_error(c, 409, "not_connected",
		    "this workspace has not chosen a WhatsApp Business "
		    "Account yet");
	}
	return GO_ON;
}

/* GET /api/v1/w/{slug}/templates: {"templates":[...],"next":cursor|null}. */
enum answer
h_api_templates_get(struct ctx *c)
{
	struct graph_tpl_query q = { 0 };
	struct conn_row        r;
	struct vault_secret    tok;
	struct graph_err       e;
	struct json_object    *list, *o;
	char                   next[GRAPH_CURSOR_MAX];
	long                   limit = 0;
	int                    rc;

	if (c->in[TPLS_LIMIT].set &&
	    ((limit = strtol(c->in[TPLS_LIMIT].s, NULL, 10)) < 1 ||
	        limit > TPL_LIMIT_MAX))
		return api_error(c, 400, "invalid_request",
		    "limit must be 1 to 100");
	q.status = c->in[TPLS_STATUS].set ? c->in[TPLS_STATUS].s : NULL;
	q.name = c->in[TPLS_NAME].set ? c->in[TPLS_NAME].s : NULL;
	q.after = c->in[TPLS_AFTER].set ? c->in[TPLS_AFTER].s : NULL;
	q.limit = (unsigned)limit;
	if (tpl_access(c, &r, &tok) == ANSWERED)
		return ANSWERED;
	rc = graph_templates(c->app->graph, tok.data, r.waba_id, &q, &list,
	    next, &e);
	vault_secret_free(&tok);
	if (rc == -1)
		return api_graph_failed(c, "listing the templates",
		    VAULT_KIND_WABA, &e);
	if ((o = json_object_new_object()) == NULL) {
		json_object_put(list);
		return api_json(c, 500, NULL);
	}
	json_object_object_add(o, "templates", list);
	json_object_object_add(o, "next",
	    *next ? json_object_new_string(next) : NULL);
	return api_json(c, 200, o);
}

/*
 * POST /api/v1/w/{slug}/templates: Meta's template object, checked
 * whole (msgtpl_json) before the token is even decrypted, so a bad one
 * sends nothing. Submitted once: a create is never repeated blindly.
 */
enum answer
h_api_templates_post(struct ctx *c)
{
	struct graph_tpl_created t;
	struct conn_row          r;
	struct vault_secret      tok;
	struct graph_err         e;
	struct json_object      *o;
	char                    *json, why[300];
	int                      rc;

	if (msgtpl_json(c->json, &json, why, sizeof(why)) == -1)
		return api_error(c, 400, "invalid_request", why);
	if (tpl_access(c, &r, &tok) == ANSWERED) {
		free(json);
		return ANSWERED;
	}
	rc = graph_template_create(c->app->graph, tok.data, r.waba_id, json, &t,
	    &e);
	vault_secret_free(&tok);
	free(json);
	if (rc == -1)
		return api_graph_failed(c, "creating the template",
		    VAULT_KIND_WABA, &e);
	log_info("workspace %llu: template %s (%s) submitted: id %s, %s",
	    (unsigned long long)c->ws.id, c->in[TPLC_NAME].s,
	    c->in[TPLC_LANGUAGE].s, t.id, t.status);
	if ((o = json_object_new_object()) == NULL)
		return api_json(c, 500, NULL);
	json_object_object_add(o, "id", json_object_new_string(t.id));
	json_object_object_add(o, "status", json_object_new_string(t.status));
	json_object_object_add(o, "category",
	    json_object_new_string(t.category));
	return api_json(c, 200, o);
}

/* DELETE /api/v1/w/{slug}/templates/{name}[?hsm_id=]: {"deleted":true}. */
enum answer
h_api_template_delete(struct ctx *c)
{
	const char *hsm = c->in[TPLD_HSM_ID].set ? c->in[TPLD_HSM_ID].s : NULL;
	struct conn_row     r;
	struct vault_secret tok;
	struct graph_err    e;
	struct json_object *o;
	int                 rc;

	if (tpl_access(c, &r, &tok) == ANSWERED)
		return ANSWERED;
	rc = graph_template_delete(c->app->graph, tok.data, r.waba_id,
	    c->in[TPLD_NAME].s, hsm, &e);
	vault_secret_free(&tok);
	if (rc == -1)
		return api_graph_failed(c, "deleting the template",
		    VAULT_KIND_WABA, &e);
	log_info("workspace %llu: template %s%s%s deleted",
	    (unsigned long long)c->ws.id, c->in[TPLD_NAME].s,
	    hsm ? " hsm_id " : "", hsm ? hsm : "");
	if ((o = json_object_new_object()) == NULL)
		return api_json(c, 500, NULL);
	json_object_object_add(o, "deleted", json_object_new_boolean(1));
	json_object_object_add(o, "name",
	    json_object_new_string(c->in[TPLD_NAME].s));
	if (hsm != NULL)
		json_object_object_add(o, "hsm_id",
		    json_object_new_string(hsm));
	return api_json(c, 200, o);
}
