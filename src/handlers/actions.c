/*
 * What the merchant can do on a connection: verify it (the catalog
 * token too, when one is stored), send a test message, disconnect it.
 * Connecting or removing a Meta Catalog is catalog.c. Every success
 * answers 303 back to the settings page.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../app.h"
#include "../graph.h"
#include "../log.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/routes.h"
#include "../vault.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"

#define TEST_TEXT \
	"This is a test message from waba-connect: your WhatsApp " \
	"connection works."

/*
 * The catalog token is checked along with the connection: Meta revokes
 * it independently. GO_ON, or ANSWERED when the page says why not.
 */
static enum answer
verify_catalog(struct ctx *c, const struct conn_row *r)
{
	struct vault_secret tok;
	struct graph_err    e;
	char                name[201];
	int                 rc;

	if (hm_token(c, VAULT_KIND_CATALOG, &tok) == ANSWERED)
		return ANSWERED;
	rc = graph_catalog(c->app->graph, tok.data, r->catalog_id, name, &e);
	vault_secret_free(&tok);
	if (rc == 0 || !graph_err_is_token(&e))
		return GO_ON; /* transient trouble is not the token's fault */
	log_info("workspace %llu: catalog token no longer valid (subcode %ld "
	         "fbtrace_id %s)",
	    (unsigned long long)c->ws.id, e.subcode, graph_err_trace(&e));
	if (store_conn_catalog_mark(c->app->db, &c->ws,
	        graph_reason_190(e.subcode)) != STORE_OK)
		return hm_db_down(c);
	return GO_ON;
}

/* Meta refused our own app token: nothing the merchant can fix. */
static enum answer
verify_app_refused(struct ctx *c, const struct graph_err *e)
{
	char msg[1200], url[512];

	log_err("workspace %llu: Meta refused the app token on debug_token "
	        "(code %ld subcode %ld fbtrace_id %s): check [meta] app_id and "
	        "app_secret",
	    (unsigned long long)c->ws.id, e->code, e->subcode,
	    graph_err_trace(e));
	hm_settings_url(c, url, sizeof(url));
	snprintf(msg, sizeof(msg),
	    "Meta refused this app's own credentials "
	    "while verifying the connection, so it could not be checked. This "
	    "is a problem with the server's app configuration (its app ID or "
	    "app secret), not with your WhatsApp connection, which was left "
	    "as it was. Please tell your administrator, with the reference "
	    "below. Meta's answer: \"%s\" (code %ld).",
	    e->message, e->code);
	return view_error_with(c, 502, msg, url, e->fbtrace_id, 0);
}

enum answer
h_verify(struct ctx *c)
{
	struct conn_row         r;
	struct vault_secret     tok;
	struct graph_token_info ti;
	struct graph_phone      ph;
	struct conn_phone       cp, *cpp = NULL;
	struct graph_err        e;
	char                    reason[200];
	int                     restricted, registered = 0;

	if (store_conn_get(c->app->db, &c->ws, &r) != STORE_OK)
		return hm_db_down(c);
	if (!r.has_token)
		return hm_back(c, "not_connected");
	if (hm_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	if (graph_debug_token(c->app->graph, tok.data, &ti, &e) == -1) {
		vault_secret_free(&tok);
		/*
		 * debug_token is called with the app's token: a 190 here is
		 * about app_id/app_secret. The merchant's token's troubles
		 * come inside a 200, as data.is_valid false and data.error.
		 */
		if (graph_err_is_token(&e))
			return verify_app_refused(c, &e);
		return hm_graph_failed(c, "verifying the connection", &e, 1);
	}
	if (!ti.is_valid) {
		vault_secret_free(&tok);
		log_info("workspace %llu: token no longer valid (code %ld "
		         "subcode %ld fbtrace_id %s)",
		    (unsigned long long)c->ws.id, ti.error_code,
		    ti.error_subcode, graph_err_trace(&e));
		if (store_conn_mark(c->app->db, &c->ws, "needs_reconnect",
		        graph_reason_190(ti.error_subcode)) != STORE_OK)
			return hm_db_down(c);
		return hm_back(c, "needs_reconnect");
	}
	/*
	 * The business can stop sharing the WABA and keep the token valid.
	 * A token without any WABA in its granular scopes counts as not
	 * sharing it, as at the callback, which refuses such a token: the
	 * flow that stored this one found the WABA there.
	 */
	if (*r.waba_id && !graph_token_has_waba(&ti, r.waba_id)) {
		vault_secret_free(&tok);
		snprintf(reason, sizeof(reason),
		    "this connection no longer has "
		    "access to the WhatsApp Business Account %s; reconnect and "
		    "share it again on Meta's page",
		    r.waba_id);
		log_info("workspace %llu: WABA %s no longer granted "
		         "(fbtrace_id %s)",
		    (unsigned long long)c->ws.id, r.waba_id,
		    graph_err_trace(&e));
		if (store_conn_mark(c->app->db, &c->ws, "needs_reconnect",
		        reason) != STORE_OK)
			return hm_db_down(c);
		return hm_back(c, "needs_reconnect");
	}
	if (*r.phone_number_id) {
		if (graph_phone(c->app->graph, tok.data, r.phone_number_id, &ph,
		        &e) == -1) {
			vault_secret_free(&tok);
			return hm_graph_failed(c, "reading your phone number",
			    &e, 1);
		}
		cp.id = ph.id;
		cp.display_phone_number = ph.display_phone_number;
		cp.verified_name = ph.verified_name;
		cp.quality_rating = ph.quality_rating;
		cpp = &cp;
	}
	if (phones_refresh(c, tok.data, &registered) == ANSWERED) {
		vault_secret_free(&tok);
		return ANSWERED;
	}
	vault_secret_free(&tok);
	if (store_conn_verified(c->app->db, &c->ws, ti.expires_at, ti.scopes,
	        cpp, &restricted) != STORE_OK)
		return hm_db_down(c);
	if (r.has_catalog && verify_catalog(c, &r) == ANSWERED)
		return ANSWERED;
	/* The token works, but only Meta can lift what it restricted. */
	if (restricted)
		log_info("workspace %llu: token valid, but Meta's restriction "
		         "of WABA %s still holds",
		    (unsigned long long)c->ws.id, *r.waba_id ? r.waba_id : "-");
	return hm_back(c,
	    restricted       ? "restricted"
	        : registered ? "verified_registered"
	                     : "verified");
}

enum answer
h_test_message(struct ctx *c)
{
	struct conn_row     r;
	struct vault_secret tok;
	struct graph_err    e;
	const char         *to = c->in[TEST_TO].s;
	char                id[256], detail[400], url[512];
	int                 rc;

	hm_settings_url(c, url, sizeof(url));
	if (store_conn_get(c->app->db, &c->ws, &r) != STORE_OK)
		return hm_db_down(c);
	if (strcmp(r.status, "connected") != 0 || *r.phone_number_id == '\0')
		return view_error_with(c, 409,
		    "Connect WhatsApp and select a "
		    "phone number before sending a test message.",
		    url, NULL, 0);
	if (hm_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	rc = graph_send_text(c->app->graph, tok.data, r.phone_number_id, to,
	    TEST_TEXT, id, &e);
	vault_secret_free(&tok);
	if (rc == -1)
		return hm_graph_failed(c, "sending the test message", &e, 1);
	snprintf(detail, sizeof(detail), "to %s: %s", to, id);
	store_conn_audit(c->app->db, &c->ws, c->sess.email, "test_message",
	    detail);
	return hm_back(c, "test_sent");
}

enum answer
h_disconnect(struct ctx *c)
{
	/*
	 * Routes first: a disconnected workspace must not keep receiving its
	 * webhooks, and a failure here leaves everything as it was. Should
	 * the row fail after them, the merchant sees 503 and disconnects
	 * again; meanwhile nothing is routed to a connection being dropped.
	 */
	if (store_route_replace(c->app->db, c->ws.id, NULL, NULL, NULL) !=
	    STORE_OK)
		return hm_db_down(c);
	if (store_conn_disconnect(c->app->db, &c->ws, c->sess.email) !=
	    STORE_OK)
		return hm_db_down(c);
	log_info("workspace %llu: WhatsApp disconnected",
	    (unsigned long long)c->ws.id);
	return hm_back(c, "disconnected");
}
