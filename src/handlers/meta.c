/*
 * hm_*: the steps every handler that calls Meta repeats (the workspace's
 * token, decrypted only for the call; a failed call turned into stored
 * state and a page that says what to do; the redirect back), written
 * once so the handlers read as the flow they implement.
 */
#include <stdio.h>
#include <string.h>

#include "../app.h"
#include "../graph.h"
#include "../log.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/numbers.h"
#include "../store/routes.h"
#include "../vault.h"
#include "../view.h"
#include "meta.h"

void
hm_settings_url(const struct ctx *c, char *out, size_t len)
{
	snprintf(out, len, "%s/w/%s/settings/whatsapp", c->app->mount,
	    c->ws.slug);
}

enum answer
hm_back(struct ctx *c, const char *flash)
{
	char   url[512];
	size_t n;

	hm_settings_url(c, url, sizeof(url));
	n = strlen(url);
	if (flash)
		snprintf(url + n, sizeof(url) - n, "?m=%s", flash);
	resp_redirect(c->resp, 303, url);
	return ANSWERED;
}

enum answer
hm_db_down(struct ctx *c)
{
	return view_error(c, 503,
	    "The database is not answering, so nothing "
	    "was changed. Please try again in a moment.");
}

enum answer
hm_token(struct ctx *c, const char *kind, struct vault_secret *out)
{
	struct vault_box box;
	char             err[256], url[512];
	enum store_rc    rc;

	memset(out, 0, sizeof(*out));
	rc = store_conn_token_get(c->app->db, &c->ws, kind, &box);
	if (rc == STORE_NOTFOUND)
		return hm_back(c, "not_connected");
	if (rc != STORE_OK)
		return hm_db_down(c);
	/*
	 * `keys rotate` moves rows to a key this worker has not loaded yet:
	 * reread the ring (when it changed on disk) rather than fail until
	 * the next SIGHUP.
	 */
	if (!vault_has_version(c->app->vault, box.key_version))
		(void)app_vault(c->app);
	if (vault_decrypt(c->app->vault, c->ws.id, kind, &box, out, err,
	        sizeof(err)) == -1) {
		/* Names the workspace; says nothing of the token. */
		log_err("%s", err);
		vault_box_free(&box);
		hm_settings_url(c, url, sizeof(url));
		view_error_with(c, 500,
		    "This workspace's stored access could "
		    "not be decrypted (the server's key ring does not match). "
		    "Your administrator has been told in the server log; "
		    "reconnecting WhatsApp stores a fresh token.",
		    url, NULL, 1);
		return ANSWERED;
	}
	vault_box_free(&box);
	return GO_ON;
}

/*
 * Meta's own words, for the page: people quote them to support, and
 * Meta's docs are indexed by code. "" when Meta gave no error object
 * (timeouts, unreachable, unreadable answers).
 */
static void
hm_meta_said(const struct graph_err *e, char *out, size_t len)
{
	char sub[32] = "";

	out[0] = '\0';
	if (e->code == 0)
		return;
	if (e->subcode != 0)
		snprintf(sub, sizeof(sub), "/%ld", e->subcode);
	snprintf(out, len, " Meta's answer: \"%s\"%s%s%s%s (code %ld%s).",
	    e->message, *e->details ? " " : "", e->details,
	    *e->user_msg ? " " : "", e->user_msg, e->code, sub);
}

/*
 * Meta was not called (meta_gate.h): at once, so the page does not wait
 * for a slow Meta either. An API route (doc/contract.md, Routes) gets its
 * JSON error.
 */
static enum answer
hm_meta_slow(struct ctx *c, const char *what, const struct graph_err *e)
{
	char msg[512], url[512], secs[24];

	snprintf(secs, sizeof(secs), "%ld",
	    e->retry_after > 0 ? e->retry_after : 1);
	if (c->req != NULL && c->req->path != NULL &&
	    strncmp(c->req->path, "/api/", 5) == 0) {
		resp_text(c->resp, 503,
		    "{\"error\":{\"code\":\"unavailable\","
		    "\"message\":\"Meta is slow right now: no capacity for a "
		    "Meta call. Try again in a moment.\"}}");
		snprintf(c->resp->ctype, sizeof(c->resp->ctype),
		    "application/json");
		resp_header(c->resp, "Retry-After", secs);
		return ANSWERED;
	}
	hm_settings_url(c, url, sizeof(url));
	snprintf(msg, sizeof(msg),
	    "Meta is slow right now, try again in a "
	    "moment. So as not to keep you waiting, %s was not started: "
	    "nothing was sent to Meta and nothing was changed.",
	    what);
	view_error_with(c, 503, msg, url, NULL, 0);
	resp_header(c->resp, "Retry-After", secs);
	return ANSWERED;
}

enum answer
hm_graph_failed(struct ctx *c, const char *what, const struct graph_err *e,
    int stored)
{
	char        msg[2048], said[1700], url[512];
	const char *reason;
	size_t      n;
	int         status = 502;

	if (e->unavailable)
		return hm_meta_slow(c, what, e);
	log_warn("workspace %llu: Meta call failed while %s: http %ld code "
	         "%ld subcode %ld fbtrace_id %s",
	    (unsigned long long)c->ws.id, what, e->http_status, e->code,
	    e->subcode, graph_err_trace(e));
	hm_settings_url(c, url, sizeof(url));
	hm_meta_said(e, said, sizeof(said));
	if (graph_err_is_token(e)) {
		reason = graph_reason_190(e->subcode);
		if (stored &&
		    store_conn_mark(c->app->db, &c->ws, "needs_reconnect",
		        reason) != STORE_OK)
			log_err("workspace %llu: could not mark "
			        "needs_reconnect",
			    (unsigned long long)c->ws.id);
		if (stored)
			snprintf(msg, sizeof(msg),
			    "Meta no longer accepts this "
			    "workspace's access (%s), so %s did not work. "
			    "Reconnect WhatsApp to continue.%s",
			    reason, what, said);
		else
			snprintf(msg, sizeof(msg),
			    "Meta did not accept the new "
			    "access (%s) while %s. Nothing was changed. Try "
			    "connecting again.%s",
			    reason, what, said);
		return view_error_with(c, 502, msg, url, e->fbtrace_id, 1);
	}
	if (e->timeout) {
		status = 504;
		snprintf(msg, sizeof(msg),
		    "Meta did not answer in time while "
		    "%s. Nothing was changed. Try again in a minute.",
		    what);
	} else if (e->tls)
		/* Not the merchant's doing, and not a blip: say who can fix
		   it. The details (which certificate problem, which host)
		   are in the server log, not on the page. */
		snprintf(msg, sizeof(msg),
		    "We could not confirm that we were "
		    "talking to Meta while %s: the server's secure connection "
		    "to Meta was refused because Meta's certificate could not "
		    "be verified. Nothing was sent and nothing was changed. "
		    "This needs your administrator: the server log says "
		    "which certificate check failed.",
		    what);
	else if (e->network)
		snprintf(msg, sizeof(msg),
		    "We could not reach Meta while %s. "
		    "Nothing was changed. Try again in a minute; if it keeps "
		    "happening, the server's connection to Meta needs "
		    "checking.",
		    what);
	else if (e->bad_response)
		snprintf(msg, sizeof(msg),
		    "Meta sent an answer we could not "
		    "read while %s. Nothing was changed. Try again; if it "
		    "persists, contact support with the reference below.",
		    what);
	else if (e->http_status == 429 ||
	    (e->transient && e->http_status < 500))
		snprintf(msg, sizeof(msg),
		    "Meta is limiting requests right "
		    "now, even after several tries, while %s. Nothing was "
		    "changed. Wait a few minutes and try again.%s",
		    what, said);
	else if (e->http_status >= 500)
		snprintf(msg, sizeof(msg),
		    "Meta had a problem on its side "
		    "while %s. Nothing was changed. Try again later.%s",
		    what, said);
	else if (*said)
		snprintf(msg, sizeof(msg),
		    "Meta refused %s. Nothing was "
		    "changed.%s",
		    what, said);
	else
		snprintf(msg, sizeof(msg),
		    "Meta refused %s: %s. Nothing was "
		    "changed.",
		    what, e->message);
	/* "Nothing was changed" is about our side; Meta's is unknown. */
	if (e->maybe_done) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n,
		    " The request had reached "
		    "Meta, so Meta may have acted on it anyway; it was not "
		    "repeated, so that it cannot happen twice. Check before "
		    "trying again.");
	}
	return view_error_with(c, status, msg, url, e->fbtrace_id, 0);
}

enum store_rc
hm_routes(struct ctx *c)
{
	struct conn_row r;
	char            ids[2048];
	enum store_rc   rc;

	/*
	 * The control and workspace databases may be on different servers,
	 * so the routes cannot share the rows' transaction: they follow
	 * them, and the next change writes them again after a failure.
	 */
	if ((rc = store_conn_get(c->app->db, &c->ws, &r)) == STORE_OK &&
	    (rc = store_num_ids(c->app->db, &c->ws, ids, sizeof(ids))) ==
	        STORE_OK)
		rc = store_route_replace(c->app->db, c->ws.id,
		    r.has_token ? r.waba_ids : NULL,
		    r.has_token ? r.waba_id : NULL, r.has_token ? ids : NULL);
	if (rc != STORE_OK && rc != STORE_DUP)
		log_err("workspace %llu: webhook routes not updated",
		    (unsigned long long)c->ws.id);
	return rc;
}

/* Plain words for Meta's messaging_limit_tier. */
const char *
hm_limit_words(const char *tier)
{
	static const struct {
		const char *tier, *words;
	} t[] = {
		{ "TIER_50", "50 customers a day" },
		{ "TIER_250", "250 customers a day" },
		{ "TIER_1K", "1,000 customers a day" },
		{ "TIER_2K", "2,000 customers a day" },
		{ "TIER_10K", "10,000 customers a day" },
		{ "TIER_100K", "100,000 customers a day" },
		{ "TIER_UNLIMITED", "no daily limit" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(tier, t[i].tier) == 0)
			return t[i].words;
	return tier;
}
