/*
 * The internal API's catalog routes (doc/contract.md, Internal API):
 * POST /api/v1/w/{slug}/catalog/items pushes item updates through
 * Meta's Catalog Batch API (items_batch) and GET
 * /api/v1/w/{slug}/catalog/batches/{handle} reads one push's status
 * (check_batch_request_status). Both use the catalog's own token
 * (VAULT_KIND_CATALOG), never the WhatsApp one, and the catalog id the
 * workspace stored: the caller names neither, so a key can only ever
 * reach its own workspace's catalog.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../app.h"
#include "../catbatch.h"
#include "../graph.h"
#include "../store/connection.h"
#include "../vault.h"
#include "handlers.h"

/*
 * The workspace's catalog into r: GO_ON when one is connected, else
 * 409 not_connected (none), 409 needs_reconnect (Meta refused its token
 * before: the stored reason), or 503. The WhatsApp connection's own
 * state does not matter here: the catalog has a token of its own.
 */
static enum answer
api_catalog_ready(struct ctx *c, struct conn_row *r)
{
	if (store_conn_get(c->app->db, &c->ws, r) != STORE_OK)
		return api_db_down(c);
	if (!r->has_catalog || !*r->catalog_id)
		return api_error(c, 409, "not_connected",
		    "this workspace has not connected a Meta catalog (on its "
		    "WhatsApp settings page)");
	if (strcmp(r->catalog_status, "needs_reconnect") == 0)
		return api_error(c, 409, "needs_reconnect",
		    *r->catalog_reason
		        ? r->catalog_reason
		        : "Meta no longer accepts the catalog's access token; "
		          "connect the catalog again on the workspace's "
		          "WhatsApp settings page");
	return GO_ON;
}

enum answer
h_api_catalog_items(struct ctx *c)
{
	struct conn_row     r;
	struct vault_secret tok;
	struct graph_err    e;
	struct json_object *answer;
	char                why[300], *body;
	int                 too_many, rc;

	/* All of it checked before the database or Meta hear of it. */
	if (catbatch_check(c->json, &too_many, why, sizeof(why)) == -1)
		return too_many ? api_error(c, 413, "too_large", why)
		                : api_error(c, 400, "invalid_request", why);
	if (api_catalog_ready(c, &r) == ANSWERED)
		return ANSWERED;
	if ((body = catbatch_body(c->in[CITEMS_TYPE].s, c->json)) == NULL)
		return api_json(c, 500, NULL);
	if (api_token(c, VAULT_KIND_CATALOG, &tok) == ANSWERED) {
		free(body);
		return ANSWERED;
	}
	rc = graph_items_batch(c->app->graph, tok.data, r.catalog_id, body,
	    &answer, &e);
	vault_secret_free(&tok);
	free(body);
	if (rc == -1)
		return api_graph_failed(c, "pushing the catalog items",
		    VAULT_KIND_CATALOG, &e);
	return api_json(c, 200, answer);
}

enum answer
h_api_catalog_batch(struct ctx *c)
{
	const char         *handle = c->in[CBATCH_HANDLE].s;
	struct conn_row     r;
	struct vault_secret tok;
	struct graph_err    e;
	struct json_object *status, *o;
	int                 rc;

	if (api_catalog_ready(c, &r) == ANSWERED)
		return ANSWERED;
	if (api_token(c, VAULT_KIND_CATALOG, &tok) == ANSWERED)
		return ANSWERED;
	rc = graph_batch_status(c->app->graph, tok.data, r.catalog_id, handle,
	    &status, &e);
	vault_secret_free(&tok);
	if (rc == -1)
		return api_graph_failed(c, "reading the catalog batch's status",
		    VAULT_KIND_CATALOG, &e);
	if (status == NULL)
		return api_error(c, 404, "not_found",
		    "Meta knows no batch with this handle in the workspace's "
		    "catalog");
	/* Ours around Meta's: {"handle", "batch": Meta's status object}. */
	if ((o = json_object_new_object()) == NULL) {
		json_object_put(status);
		return api_json(c, 500, NULL);
	}
	json_object_object_add(o, "handle", json_object_new_string(handle));
	json_object_object_add(o, "batch", status);
	return api_json(c, 200, o);
}
