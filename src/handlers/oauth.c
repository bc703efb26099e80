/*
 * The OAuth round trip with Meta (doc/architecture.md, The OAuth round
 * trip): connect builds the dialog URL with a single-use state (or, for
 * the Embedded Signup popup, hands the state to its script); the callback
 * and the popup's post check the state, exchange the code, make the token
 * long-lived, read what it grants, and store it encrypted in one
 * statement, by one code path. Any failure on the way stores nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../app.h"
#include "../config.h"
#include "../graph.h"
#include "../log.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/oauth.h"
#include "../store/routes.h"
#include "../vault.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"

#define STATE_BYTES 32
#define STATE_TTL   600         /* seconds: doc/architecture.md */
#define LONG_LIVED  (7 * 86400) /* shorter-lived tokens are exchanged */

enum answer
h_connect(struct ctx *c)
{
	const struct config *cfg = c->app->cfg;
	unsigned char        raw[STATE_BYTES], hash[32];
	char        state[STATE_BYTES * 2 + 1], redirect[600], path[64];
	char        json[STATE_BYTES * 2 + 16];
	char       *url;
	const char *params[14];
	size_t      n = 0;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(state, sizeof(state), raw, sizeof(raw));
	crypto_hash_sha256(hash, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	if (store_oauth_put(c->app->db, hash, c->ws.id, c->sess_hash,
	        STATE_TTL) != STORE_OK)
		return hm_db_down(c);
	if (c->in[CONNECT_POPUP].set) {
		/*
		 * embedded_signup.js asks while Meta's popup opens: the same
		 * single-use, session-bound state, which it posts back with
		 * the popup's code. Only this session's page can read it:
		 * the gate checked the CSRF token, and fetch is same-origin.
		 */
		snprintf(json, sizeof(json), "{\"state\":\"%s\"}", state);
		resp_text(c->resp, 200, json);
		snprintf(c->resp->ctype, sizeof(c->resp->ctype),
		    "application/json");
		log_info("workspace %llu: Embedded Signup popup started",
		    (unsigned long long)c->ws.id);
		return ANSWERED;
	}

	snprintf(redirect, sizeof(redirect), "%s/oauth/meta/callback",
	    cfg->base_url);
	params[n++] = "client_id";
	params[n++] = cfg->app_id;
	params[n++] = "redirect_uri";
	params[n++] = redirect;
	params[n++] = "state";
	params[n++] = state;
	params[n++] = "response_type";
	params[n++] = "code";
	if (cfg->config_id) {
		/* Facebook Login for Business: the configuration names the
		 * permissions and the Embedded Signup flow. */
		params[n++] = "config_id";
		params[n++] = cfg->config_id;
	} else {
		params[n++] = "scope";
		params[n++] = "whatsapp_business_management,"
		              "whatsapp_business_messaging,business_management";
	}
	params[n] = NULL;
	snprintf(path, sizeof(path), "dialog/oauth");
	if ((url = graph_build_url(cfg->dialog_base_url, cfg->graph_version,
	         path, params)) == NULL)
		return view_internal(c, "out of memory (dialog URL)");
	resp_redirect(c->resp, 303, url);
	free(url);
	log_info("workspace %llu: OAuth round trip started",
	    (unsigned long long)c->ws.id);
	return ANSWERED;
}

/* Finds needle in a comma-separated list. */
static int
in_list(const char *list, const char *needle)
{
	size_t      n = strlen(needle);
	const char *p = list;

	if (n == 0)
		return 0;
	while ((p = strstr(p, needle)) != NULL) {
		if ((p == list || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * What the Embedded Signup popup reported (its WA_EMBEDDED_SIGNUP
 * message, posted by embedded_signup.js): hints, trusted only where
 * debug_token and the WABA's numbers confirm them. NULL: not given.
 */
struct oauth_hint {
	const char *waba_id;
	const char *phone_number_id;
};

/*
 * Once the WABA is known, its numbers decide two things: a reconnect
 * keeps the selected number when the new token still sees it in the
 * same WABA (*keep), and a number the popup named is preselected on the
 * phone page only when it is one of them (pick, "" otherwise). A named
 * number other than the kept one is what the merchant just chose: it
 * wins. GO_ON, or ANSWERED when the page says why not.
 */
static enum answer
callback_phones(struct ctx *c, const char *token, const char *waba,
    const struct conn_row *old, const char *hint, int *keep, char pick[33])
{
	struct graph_phone *list = NULL;
	struct graph_err    e;
	size_t              n = 0, i;
	int                 same;

	*keep = 0;
	pick[0] = '\0';
	if (waba == NULL)
		return GO_ON;
	same = *old->phone_number_id != '\0' && strcmp(waba, old->waba_id) == 0;
	if (!same && hint == NULL)
		return GO_ON;
	if (graph_phone_numbers(c->app->graph, token, waba, &list, &n, &e) ==
	    -1)
		return hm_graph_failed(c, "checking your phone numbers", &e, 0);
	for (i = 0; i < n; i++) {
		if (same && strcmp(list[i].id, old->phone_number_id) == 0)
			*keep = 1;
		if (hint != NULL && strcmp(list[i].id, hint) == 0)
			snprintf(pick, 33, "%s", list[i].id);
	}
	free(list);
	if (hint != NULL && *pick == '\0')
		log_warn("workspace %llu: the popup named number %s, which is "
		         "not one of WABA %s's; ignored",
		    (unsigned long long)c->ws.id, hint, waba);
	if (*pick != '\0' && strcmp(pick, old->phone_number_id) != 0)
		*keep = 0;
	return GO_ON;
}

/*
 * The WABA this connection uses: the popup's, when debug_token grants
 * it; else the only one granted; else the one already chosen, if still
 * granted; else NULL, and the merchant picks one. *hint_phone keeps the
 * popup's number only with its own, trusted WABA.
 */
static const char *
callback_waba(struct ctx *c, const struct graph_token_info *ti,
    const struct conn_row *old, const struct oauth_hint *hint, char first[33],
    const char **hint_phone)
{
	size_t len;

	*hint_phone = NULL;
	if (hint != NULL && hint->waba_id != NULL) {
		if (graph_token_has_waba(ti, hint->waba_id)) {
			*hint_phone = hint->phone_number_id;
			return hint->waba_id;
		}
		log_warn("workspace %llu: the popup named WABA %s, which the "
		         "token does not grant; ignored",
		    (unsigned long long)c->ws.id, hint->waba_id);
	}
	if (hint != NULL && hint->phone_number_id != NULL &&
	    *hint_phone == NULL)
		log_warn("workspace %llu: the popup named number %s without a "
		         "granted WABA; ignored",
		    (unsigned long long)c->ws.id, hint->phone_number_id);
	if (ti->nwaba == 1) {
		len = strcspn(ti->waba_ids, ",");
		snprintf(first, 33, "%.*s", (int)len, ti->waba_ids);
		return first;
	}
	if (in_list(ti->waba_ids, old->waba_id))
		return old->waba_id;
	return NULL;
}

static enum answer
callback_finish(struct ctx *c, const char *token,
    const struct graph_token_info *ti, const struct oauth_hint *hint)
{
	struct conn_row   old;
	struct conn_oauth o;
	struct vault_box  box;
	struct graph_err  e;
	char              err[256], first[33], pick[33], url[600];
	const char       *waba, *hint_phone;
	enum store_rc     rc;
	int               keep, restricted;

	if (store_conn_get(c->app->db, &c->ws, &old) != STORE_OK)
		return hm_db_down(c);
	waba = callback_waba(c, ti, &old, hint, first, &hint_phone);
	if (callback_phones(c, token, waba, &old, hint_phone, &keep, pick) ==
	    ANSWERED)
		return ANSWERED;
	/*
	 * A kept number skips the phone page, and with it the subscription;
	 * but a reconnect usually follows PARTNER_REMOVED, which unsubscribed
	 * us. Subscribe again before anything is stored, so a failure leaves
	 * the old connection as it was (subscribing twice is harmless).
	 */
	if (keep && graph_subscribe(c->app->graph, token, waba, &e) == -1)
		return hm_graph_failed(c,
		    "subscribing to your account's "
		    "webhooks",
		    &e, 0);
	if (vault_encrypt(app_vault(c->app), c->ws.id, VAULT_KIND_WABA, token,
	        strlen(token), &box, err, sizeof(err)) == -1) {
		return view_internal(c, err);
	}
	memset(&o, 0, sizeof(o));
	o.box = &box;
	o.waba_ids = ti->waba_ids;
	o.waba_id = waba;
	o.scopes = ti->scopes;
	o.expires_at = ti->expires_at;
	o.keep_phone = keep;
	rc = store_conn_save_oauth(c->app->db, &c->ws, &o, c->sess.email);
	vault_box_free(&box);
	if (rc != STORE_OK)
		return hm_db_down(c);
	log_info("workspace %llu: token stored (%zu WABA%s)%s",
	    (unsigned long long)c->ws.id, ti->nwaba, ti->nwaba == 1 ? "" : "s",
	    keep ? ", number kept" : "");
	/*
	 * Routes after the rows, as they now say (routes.h): the chosen
	 * WABA (taken from a workspace merely granted it), every other
	 * granted WABA, so account_update (PARTNER_ADDED…) finds us before
	 * a number is chosen, and the kept numbers.
	 */
	if (hm_routes(c) != STORE_OK && keep)
		/* The state is spent; adding the number writes them. */
		return view_error(c, 503,
		    "Your WhatsApp access was renewed, "
		    "but the database did not answer while we finished, so "
		    "messages cannot reach this workspace yet. Open the phone "
		    "numbers page and add your number again.");
	/* A new token does not lift a restriction Meta reported. */
	if (keep &&
	    store_conn_restricted(c->app->db, &c->ws, &restricted) ==
	        STORE_OK &&
	    restricted)
		return hm_back(c, "restricted");
	if (keep)
		return hm_back(c, "reconnected");
	/* The popup's number, confirmed above, comes preselected; its PIN
	   is still needed to register it. */
	hm_settings_url(c, url, sizeof(url));
	strncat(url, "/phone-numbers", sizeof(url) - strlen(url) - 1);
	if (*pick != '\0') {
		strncat(url,
		    "?phone_number_id=", sizeof(url) - strlen(url) - 1);
		strncat(url, pick, sizeof(url) - strlen(url) - 1);
	}
	resp_redirect(c->resp, 303, url);
	return ANSWERED;
}

/*
 * Meta ended the dialog with an error other than the merchant's Cancel
 * ("Manually Build a Login Flow": error, error_code, error_description,
 * error_reason). Its description is shown as plain text (the template
 * escapes it); app.c declared both as text, shortened here for the page.
 */
static enum answer
callback_meta_error(struct ctx *c, const char *error, const char *url)
{
	const char *desc = c->in[CB_ERROR_DESC].s;
	char        d[301], msg[700];
	size_t      i;

	snprintf(d, sizeof(d), "%s", desc != NULL && *desc ? desc : error);
	for (i = 0; d[i] != '\0'; i++)
		if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f)
			d[i] = ' ';
	log_warn("workspace %llu: Meta's dialog returned an error (%.40s)",
	    (unsigned long long)c->ws.id, error);
	snprintf(msg, sizeof(msg),
	    "Meta could not complete the connection "
	    "and said: \"%s\". Nothing was changed. Try connecting again; if "
	    "it keeps happening, check that you may manage this business in "
	    "Meta Business Suite.",
	    d);
	return view_error_with(c, 502, msg, url, NULL, 0);
}

/*
 * Takes the single-use state (declared hex{32}, so it arrives decoded):
 * GO_ON with the workspace it was made for, whose membership is checked
 * like {slug}'s; ANSWERED with the page.
 */
static enum answer
oauth_take(struct ctx *c, const struct in_val *state, uint64_t *wsid)
{
	unsigned char hash[32];
	enum store_rc rc;

	crypto_hash_sha256(hash, state->bin, state->binlen);
	rc = store_oauth_take(c->app->db, hash, c->sess_hash, wsid);
	if (rc == STORE_NOTFOUND)
		return view_error(c, 400,
		    "This connection attempt has expired, "
		    "was already used, or was started in another browser "
		    "session, so nothing was changed. Start again from your "
		    "WhatsApp settings page.");
	if (rc != STORE_OK)
		return hm_db_down(c);
	return app_member(c, NULL, *wsid);
}

/*
 * The code's way to a token, the same for the callback and the popup:
 * exchange it (redirect NULL for the popup's, see graph.h), trade a
 * short-lived token for a long-lived one, read what it grants. A token
 * that is not valid or grants no WABA stops here. GO_ON with *tok (the
 * caller wipes it, buf_free_secret) and *ti; ANSWERED with the page.
 */
static enum answer
oauth_token(struct ctx *c, const char *code, const char *redirect,
    const char *url, struct buf *tok, struct graph_token_info *ti)
{
	struct buf       ltok = BUF_INIT;
	struct graph_err e;
	long             expires_in = 0, lexp = 0;

	if (graph_exchange_code(c->app->graph, code, redirect, tok, &expires_in,
	        &e) == -1)
		return hm_graph_failed(c,
		    "exchanging Meta's authorization code", &e, 0);
	if (expires_in > 0 && expires_in < LONG_LIVED) {
		if (graph_exchange_long_lived(c->app->graph, tok->data, &ltok,
		        &lexp, &e) == -1) {
			buf_free_secret(&ltok);
			return hm_graph_failed(c, "getting a long-lived token",
			    &e, 0);
		}
		buf_free_secret(tok);
		*tok = ltok;
	}
	if (graph_debug_token(c->app->graph, tok->data, ti, &e) == -1)
		return hm_graph_failed(c, "checking the new token", &e, 0);
	if (!ti->is_valid || ti->nwaba == 0)
		log_warn("workspace %llu: new token %s (code %ld subcode %ld "
		         "fbtrace_id %s)",
		    (unsigned long long)c->ws.id,
		    !ti->is_valid ? "not valid" : "grants no WABA",
		    ti->error_code, ti->error_subcode, graph_err_trace(&e));
	if (!ti->is_valid)
		return view_error_with(c, 502,
		    "Meta says the new access token "
		    "is not valid, so nothing was changed. Try connecting "
		    "again.",
		    url, e.fbtrace_id, 0);
	if (ti->nwaba == 0)
		return view_error_with(c, 400,
		    "No WhatsApp Business Account "
		    "was shared with this app, so nothing was changed. Connect "
		    "again and choose an account on Meta's page.",
		    url, e.fbtrace_id, 0);
	return GO_ON;
}

enum answer
h_oauth_callback(struct ctx *c)
{
	const struct config    *cfg = c->app->cfg;
	const char             *code = c->in[CB_CODE].s;
	const char             *error = c->in[CB_ERROR].s;
	char                    redirect[600], url[512];
	struct buf              tok = BUF_INIT;
	struct graph_token_info ti;
	uint64_t                wsid;
	enum answer             ret;

	if (oauth_take(c, &c->in[CB_STATE], &wsid) == ANSWERED)
		return ANSWERED;
	hm_settings_url(c, url, sizeof(url));

	if (error != NULL && strcmp(error, "access_denied") == 0)
		return view_error_with(c, 200,
		    "You cancelled connecting "
		    "WhatsApp on Meta's page, so nothing was changed. You can "
		    "connect whenever you are ready.",
		    url, NULL, 0);
	if (error != NULL)
		return callback_meta_error(c, error, url);
	if (code == NULL)
		return view_error_with(c, 400,
		    "Meta's answer did not include "
		    "a valid authorization code, so nothing was changed. "
		    "Try connecting again.",
		    url, NULL, 0);

	snprintf(redirect, sizeof(redirect), "%s/oauth/meta/callback",
	    cfg->base_url);
	if ((ret = oauth_token(c, code, redirect, url, &tok, &ti)) == GO_ON)
		ret = callback_finish(c, tok.data, &ti, NULL);
	buf_free_secret(&tok);
	return ret;
}

/*
 * The Embedded Signup popup's end (doc/contract.md, Routes): the code
 * from FB.login and the session info from Meta's WA_EMBEDDED_SIGNUP
 * message, posted by embedded_signup.js with the state it got from
 * connect. The same path as the callback; the session info only picks
 * among what the token grants (callback_waba, callback_phones), since
 * the browser could have written anything into it.
 */
enum answer
h_embedded_signup(struct ctx *c)
{
	struct oauth_hint       hint;
	char                    url[512];
	struct buf              tok = BUF_INIT;
	struct graph_token_info ti;
	uint64_t                wsid, slug_ws = c->ws.id;
	enum answer             ret;

	hm_settings_url(c, url, sizeof(url));
	if (oauth_take(c, &c->in[ES_STATE], &wsid) == ANSWERED)
		return ANSWERED;
	/* A state made for another workspace must not connect this one. */
	if (wsid != slug_ws) {
		log_warn("workspace %llu: popup state made for workspace %llu; "
		         "refused",
		    (unsigned long long)slug_ws, (unsigned long long)wsid);
		return view_error_with(c, 400,
		    "This connection attempt was "
		    "started for another workspace, so nothing was changed. "
		    "Start again from this workspace's WhatsApp settings page.",
		    url, NULL, 0);
	}
	hint.waba_id = c->in[ES_WABA].s;
	hint.phone_number_id = c->in[ES_PHONE].s;
	log_info("workspace %llu: Embedded Signup popup finished (WABA %s, "
	         "number %s, business %s)",
	    (unsigned long long)c->ws.id, hint.waba_id ? hint.waba_id : "-",
	    hint.phone_number_id ? hint.phone_number_id : "-",
	    c->in[ES_BUSINESS].s ? c->in[ES_BUSINESS].s : "-");
	if ((ret = oauth_token(c, c->in[ES_CODE].s, NULL, url, &tok, &ti)) ==
	    GO_ON)
		ret = callback_finish(c, tok.data, &ti, &hint);
	buf_free_secret(&tok);
	return ret;
}
