/*
 * The Meta Catalog of a connection: connect one with its own token
 * (checked by reading the catalog with it, stored encrypted) or remove
 * it. Every success answers 303 back to the settings page. Checking the
 * stored catalog token again is part of verifying (actions.c).
 */
#include <stdio.h>
#include <string.h>

#include "../app.h"
#include "../graph.h"
#include "../log.h"
#include "../request.h"
#include "../store/connection.h"
#include "../vault.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"

enum answer
h_catalog(struct ctx *c)
{
	const char      *id = c->in[CATALOG_ID].s;
	const char      *token = c->in[CATALOG_TOKEN].s;
	struct vault_box box;
	struct graph_err e;
	char             name[201], err[256], url[512], msg[900];
	enum store_rc    rc;

	hm_settings_url(c, url, sizeof(url));
	/* Validated by reading the catalog with it: a bad token is refused. */
	if (graph_catalog(c->app->graph, token, id, name, &e) == -1) {
		if (graph_err_is_token(&e) ||
		    (e.http_status >= 400 && e.http_status < 500 &&
		        !e.transient)) {
			log_info("workspace %llu: catalog token refused (code "
			         "%ld, fbtrace_id %s)",
			    (unsigned long long)c->ws.id, e.code, e.fbtrace_id);
			snprintf(msg, sizeof(msg),
			    "Meta did not accept this "
			    "token for catalog %s: %s Nothing was stored.",
			    id, e.message);
			return view_error_with(c, 400, msg, url, e.fbtrace_id,
			    0);
		}
		return hm_graph_failed(c, "reading the catalog", &e, 0);
	}
	if (vault_encrypt(app_vault(c->app), c->ws.id, VAULT_KIND_CATALOG,
	        token, strlen(token), &box, err, sizeof(err)) == -1) {
		return view_internal(c, err);
	}
	rc = store_conn_catalog_save(c->app->db, &c->ws, id, name, &box,
	    c->sess.email);
	vault_box_free(&box);
	if (rc != STORE_OK)
		return hm_db_down(c);
	return hm_back(c, "catalog_connected");
}

enum answer
h_catalog_disconnect(struct ctx *c)
{
	if (store_conn_catalog_delete(c->app->db, &c->ws, c->sess.email) !=
	    STORE_OK)
		return hm_db_down(c);
	return hm_back(c, "catalog_disconnected");
}
