/*
 * The internal API's routes (/api/v1/, doc/contract.md, Internal API)
 * and the JSON answers they share. The gate in front of them (app.c,
 * app_api_gate) has checked the key, its scope and the workspace before
 * any of these runs; c->ws is the workspace the key may touch.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "../app.h"
#include "../graph.h"
#include "../log.h"
#include "../request.h"
#include "../response.h"
#include "../status.h"
#include "../store/connection.h"
#include "../vault.h"
#include "handlers.h"

enum answer
api_json(struct ctx *c, int status, struct json_object *o)
{
	const char *s;

	if (o == NULL ||
	    (s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	        NULL) {
		json_object_put(o);
		log_err("%s %s: out of memory", c->req->method_str,
		    c->req->path);
		resp_text(c->resp, 500,
		    "{\"error\":{\"code\":\"internal\","
		    "\"message\":\"out of memory\"}}");
	} else {
		resp_text(c->resp, status, s);
		json_object_put(o);
	}
	snprintf(c->resp->ctype, sizeof(c->resp->ctype), "application/json");
	return ANSWERED;
}

enum answer
api_error(struct ctx *c, int status, const char *code, const char *message)
{
	json_object *o, *e;

	if ((o = json_object_new_object()) == NULL ||
	    (e = json_object_new_object()) == NULL) {
		json_object_put(o);
		return api_json(c, status, NULL);
	}
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(o, "error", e);
	/* RFC 6750 §3: a 401 names the scheme it wants. */
	if (status == 401)
		resp_header(c->resp, "WWW-Authenticate", "Bearer");
	return api_json(c, status, o);
}

enum answer
api_db_down(struct ctx *c)
{
	return api_error(c, 503, "unavailable",
	    "the database is not answering; try again in a moment");
}

/* 409 unless r is connected with a token; GO_ON when it is. */
static enum answer
api_ready_row(struct ctx *c, const struct conn_row *r)
{
	if (strcmp(r->status, "needs_reconnect") == 0)
		return api_error(c, 409, "needs_reconnect",
		    *r->reason ? r->reason
		               : "the connection needs to be reconnected "
		                 "on the workspace's WhatsApp settings page");
	if (strcmp(r->status, "connected") != 0 || !r->has_token)
		return api_error(c, 409, "not_connected",
		    "this workspace has not connected WhatsApp (or has not "
		    "chosen a phone number yet)");
	return GO_ON;
}

enum answer
api_ready(struct ctx *c, struct conn_row *r)
{
	if (store_conn_get(c->app->db, &c->ws, r) != STORE_OK)
		return api_db_down(c);
	return api_ready_row(c, r);
}

/* Decrypts box into out (then freed either way), or answers 500. */
static enum answer
api_open_box(struct ctx *c, const char *kind, struct vault_box *box,
    struct vault_secret *out)
{
	char err[256];

	/* As hm_token: a `keys rotate` this worker has not seen yet. */
	if (!vault_has_version(c->app->vault, box->key_version))
		(void)app_vault(c->app);
	if (vault_decrypt(c->app->vault, c->ws.id, kind, box, out, err,
	        sizeof(err)) == -1) {
		log_err("%s", err); /* names the workspace, not the token */
		vault_box_free(box);
		return api_error(c, 500, "internal",
		    "the workspace's stored access could not be decrypted "
		    "(the server's key ring does not match); the server log "
		    "says more");
	}
	vault_box_free(box);
	return GO_ON;
}

enum answer
api_token(struct ctx *c, const char *kind, struct vault_secret *out)
{
	struct vault_box box;
	enum store_rc    rc;

	memset(out, 0, sizeof(*out));
	rc = store_conn_token_get(c->app->db, &c->ws, kind, &box);
	if (rc == STORE_NOTFOUND)
		return api_error(c, 409, "not_connected",
		    strcmp(kind, VAULT_KIND_CATALOG) == 0
		        ? "this workspace has not connected a Meta catalog"
		        : "this workspace has not connected WhatsApp");
	if (rc != STORE_OK)
		return api_db_down(c);
	return api_open_box(c, kind, &box, out);
}

enum answer
api_ready_token(struct ctx *c, struct conn_row *r, struct vault_secret *out)
{
	struct vault_box box;
	enum store_rc    rc;

	memset(out, 0, sizeof(*out));
	if (c->has_pre) {
		/* The gate read them with the key (app_api_gate). */
		*r = c->pre_conn;
		box = c->pre_box;
		memset(&c->pre_box, 0, sizeof(c->pre_box));
		c->has_pre = 0;
	} else if ((rc = store_conn_get_box(c->app->db, &c->ws, r, &box)) !=
	    STORE_OK) {
		vault_box_free(&box);
		return api_db_down(c);
	}
	if (api_ready_row(c, r) == ANSWERED) {
		vault_box_free(&box);
		return ANSWERED;
	}
	memcpy(c->used_nonce, box.nonce, sizeof(c->used_nonce));
	c->has_used_nonce = 1;
	return api_open_box(c, VAULT_KIND_WABA, &box, out);
}

static enum answer
api_meta_error(struct ctx *c, int status, const char *code, const char *message,
    const struct graph_err *e)
{
	json_object *o, *err, *m;

	if ((o = json_object_new_object()) == NULL ||
	    (err = json_object_new_object()) == NULL) {
		json_object_put(o);
		return api_json(c, status, NULL);
	}
	json_object_object_add(o, "error", err);
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	/* meta only when Meta answered with an error object. */
	if (e->code != 0 && (m = json_object_new_object()) != NULL) {
		json_object_object_add(m, "code",
		    json_object_new_int64(e->code));
		if (e->subcode != 0)
			json_object_object_add(m, "error_subcode",
			    json_object_new_int64(e->subcode));
		if (*e->fbtrace_id)
			json_object_object_add(m, "fbtrace_id",
			    json_object_new_string(e->fbtrace_id));
		json_object_object_add(err, "meta", m);
	}
	return api_json(c, status, o);
}

enum answer
api_graph_failed(struct ctx *c, const char *what, const char *kind,
    const struct graph_err *e)
{
	char msg[1600], ra[24];
	long wait;

	if (e->unavailable) {
		snprintf(ra, sizeof(ra), "%ld", graph_err_retry_after(e));
		resp_header(c->resp, "Retry-After", ra);
		return api_error(c, 503, "unavailable",
		    "Meta is slow or failing right now; this call was not "
		    "made, try again after Retry-After seconds");
	}
	log_warn("workspace %llu: Meta call failed while %s: http %ld code "
	         "%ld subcode %ld fbtrace_id %s",
	    (unsigned long long)c->ws.id, what, e->http_status, e->code,
	    e->subcode, graph_err_trace(e));
	if (graph_err_is_token(e)) {
		const char *reason = graph_reason_190(e->subcode);
		int         catalog = kind != NULL &&
		    strcmp(kind, VAULT_KIND_CATALOG) == 0;
		enum store_rc rc;

		if (catalog)
			rc = store_conn_catalog_mark(c->app->db, &c->ws,
			    reason);
		else if (c->has_used_nonce)
			rc = store_conn_mark_token(c->app->db, &c->ws, reason,
			    c->used_nonce);
		else
			rc = store_conn_mark(c->app->db, &c->ws,
			    "needs_reconnect", reason);
		if (rc == STORE_NOTFOUND && !catalog) {
			/* Refused a token that has been replaced since. */
			resp_header(c->resp, "Retry-After", "1");
			return api_meta_error(c, 503, "unavailable",
			    "this workspace's WhatsApp access was renewed "
			    "while the call was made; Meta refused the old "
			    "one, so nothing was done: try again",
			    e);
		}
		if (rc != STORE_OK)
			log_err("workspace %llu: could not mark %s "
			        "needs_reconnect",
			    (unsigned long long)c->ws.id,
			    catalog ? "the catalog" : "the connection");
		snprintf(msg, sizeof(msg),
		    "Meta no longer accepts this workspace's %s (%s); it must "
		    "be reconnected on the workspace's WhatsApp settings page",
		    catalog ? "catalog access" : "access", reason);
		return api_meta_error(c, 409, "needs_reconnect", msg, e);
	}
	if (graph_err_is_rate_limit(e)) {
		wait = graph_err_retry_after(e);
		snprintf(ra, sizeof(ra), "%ld", wait);
		resp_header(c->resp, "Retry-After", ra);
		snprintf(msg, sizeof(msg),
		    "Meta is limiting these calls (%s); nothing was done, try "
		    "again after Retry-After seconds",
		    e->message);
		return api_meta_error(c, 429, "rate_limited", msg, e);
	}
	if (e->http_status >= 400 && e->http_status < 500 && e->code != 0 &&
	    !e->transient) {
		snprintf(msg, sizeof(msg), "Meta refused %s: %s%s%s%s%s%s",
		    what, e->message, *e->details ? " (" : "", e->details,
		    *e->details ? ")" : "", *e->user_msg ? ": " : "",
		    e->user_msg);
		return api_meta_error(c, 422, "meta_rejected", msg, e);
	}
	snprintf(msg, sizeof(msg), "%s while %s%s",
	    e->timeout            ? "Meta did not answer in time"
	        : e->network      ? "Meta could not be reached"
	        : e->bad_response ? "Meta sent an answer that could not be read"
	                          : "Meta failed",
	    what,
	    e->maybe_done ? "; the request had reached Meta, so Meta may "
	                    "have acted on it: it was not repeated"
	                  : "; nothing was done");
	return api_meta_error(c, 502, "meta_unavailable", msg, e);
}

/* GET /api/v1/w/{slug}/connection: the object `status --json` prints. */
enum answer
h_api_connection(struct ctx *c)
{
	struct json_object *o;
	enum store_rc       rc;

	if ((rc = status_object(c->app->db, &c->ws, &o)) == STORE_OK)
		return api_json(c, 200, o);
	if (rc == STORE_GONE)
		return api_error(c, 503, "unavailable",
		    "the database is not "
		    "answering; try again in a moment");
	return api_error(c, 503, "unavailable",
	    "the connection could not "
	    "be read; try again in a moment");
}
