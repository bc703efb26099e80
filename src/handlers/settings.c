/*
 * Settings → WhatsApp Connection: the connection's state at a glance,
 * read from the workspace's own database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "../app.h"
#include "../config.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/numbers.h"
#include "../store/webhooks.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"
#include "settings_health.h"
#include "settings_outbox.h"
#include "settings_templates.h"

static const char *
settings_label(const char *status)
{
	if (strcmp(status, "connected") == 0)
		return "Connected";
	if (strcmp(status, "pending_phone_selection") == 0)
		return "Waiting for phone number selection";
	if (strcmp(status, "needs_reconnect") == 0)
		return "Needs reconnect";
	return "Not connected";
}

/*
 * Flash messages come back as a key in the query string, never as text:
 * nothing a link carries is shown to the merchant verbatim.
 */
static const struct {
	const char *key, *kind, *text;
} flashes[] = {
	{ "connected", "ok",
	    "WhatsApp is connected: this number now sends "
	    "your workspace's messages." },
	{ "reconnected", "ok", "Reconnected. Your phone number was kept." },
	{ "verified", "ok", "Verified with Meta just now." },
	{ "verified_registered", "ok",
	    "Verified with Meta just now. Meta "
	    "approved a display name, so its number is registered and sends "
	    "now." },
	{ "needs_reconnect", "bad",
	    "Meta no longer accepts this connection. "
	    "Reconnect to continue." },
	{ "restricted", "bad",
	    "The connection works, but Meta still "
	    "restricts this WhatsApp Business Account (see the reason). It "
	    "stays so until Meta lifts it." },
	{ "test_sent", "ok", "Test message sent." },
	{ "disconnected", "ok",
	    "WhatsApp was disconnected from this "
	    "workspace." },
	{ "not_connected", "warn", "Connect WhatsApp first." },
	/* Check now (settings_health.c): the card says the rest. */
	{ "check_ok", "ok",
	    "Checked with Meta just now: everything works. See Health "
	    "below." },
	{ "check_warnings", "warn",
	    "Checked with Meta just now: Meta reports problems. See Health "
	    "below for each, with what to do." },
	{ "check_failed", "bad",
	    "The check could not finish: Meta did not answer in time. Health "
	    "below shows the last complete check; the next is tried within "
	    "minutes." },
	{ "check_busy", "warn",
	    "This connection was checked less than a minute ago (or is being "
	    "checked now). Try again in a minute." },
	{ "catalog_connected", "ok", "The catalog is connected." },
	{ "catalog_disconnected", "ok", "The catalog was removed." },
	{ "phone_added", "ok", "The number was added: it can send now." },
	{ "connected_app", "ok",
	    "WhatsApp is connected, and the number stays "
	    "on the WhatsApp Business app. Sync its contacts and then its chat "
	    "history from the app below: each can run once." },
	{ "phone_added_app", "ok",
	    "The number was added and stays on the "
	    "WhatsApp Business app. Sync its contacts and then its chat "
	    "history below: each can run once." },
	{ "default_changed", "ok", "The default sending number was changed." },
	{ "phone_removed", "ok",
	    "The number was removed from this "
	    "workspace. It is still registered with WhatsApp." },
	{ "phone_deregistered", "ok",
	    "The number was deregistered and "
	    "removed from this workspace." },
	{ "needs_code", "warn",
	    "Meta needs to confirm the number first: "
	    "send yourself a code by SMS or voice call, then enter it below." },
	{ "code_sent", "ok",
	    "Meta is sending the code. Enter it below with "
	    "the number's PIN." },
	{ "register_wait", "warn",
	    "Meta asked us to wait a few minutes "
	    "before registering the number. Verify the connection to try "
	    "again." },
	{ "register_limit", "bad",
	    "Meta refused to register the number: it "
	    "had too many registration attempts in 72 hours. See below when "
	    "to try again." },
	{ "pending_display_name", "warn",
	    "The number waits for Meta to "
	    "approve its display name. Registration is tried again when you "
	    "verify the connection." },
	{ "sync_state", "ok",
	    "Meta is sending the contacts from the WhatsApp "
	    "Business app. They arrive in the next minutes; then the chat "
	    "history can be synced." },
	{ "sync_history", "ok",
	    "Meta is sending the chat history from the "
	    "WhatsApp Business app (up to six months), if the business agreed "
	    "to share it in the app. It arrives in the next minutes." },
};

static void
settings_add(struct json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

/*
 * Webhook health: when the last delivery came, how many in 24 hours, and
 * a warning when we sent messages but Meta has been silent for longer
 * than [meta] webhook_silence_minutes: the callback URL, the verify
 * token or the app's subscription is probably wrong.
 */
static void
settings_webhooks(struct ctx *c, struct json_object *d,
    const struct conn_page *p)
{
	char                limit[32];
	struct json_object *t, *w;
	time_t              now = time(NULL) -
	    (time_t)c->app->cfg->webhook_silence_minutes * 60;
	struct tm   tm;
	const char *sent = p->test_at, *last = p->hooks_last;

	if (*sent) {
		t = json_object_new_object();
		settings_add(t, "detail", p->test_detail);
		settings_add(t, "at", sent);
		json_object_object_add(d, "last_test", t);
	}
	w = json_object_new_object();
	settings_add(w, "last_at", last);
	json_object_object_add(w, "count_24h",
	    json_object_new_int64(p->hooks_24h));
	json_object_object_add(d, "webhooks", w);
	/* "YYYY-MM-DD HH:MM:SS" strings compare like the times they name. */
	gmtime_r(&now, &tm);
	strftime(limit, sizeof(limit), "%Y-%m-%d %H:%M:%S", &tm);
	if (strcmp(p->conn.status, "connected") == 0 && *sent &&
	    strcmp(sent, limit) < 0 && strcmp(last, sent) < 0)
		json_object_object_add(d, "webhooks_silent",
		    json_object_new_boolean(1));
}

/*
 * Send health (store/sends.h): what the other services sent through the
 * gateway in the last hour, and the last failure in Meta's words, read
 * with the connection row (no round trip of its own).
 */
static void
settings_sends(struct json_object *d, const struct conn_row *r)
{
	struct json_object *s = json_object_new_object();

	json_object_object_add(s, "ok_1h",
	    json_object_new_int64(r->sends_ok_1h));
	json_object_object_add(s, "failed_1h",
	    json_object_new_int64(r->sends_failed_1h));
	settings_add(s, "last_error", r->last_send_error);
	settings_add(s, "last_error_at", r->last_send_error_at);
	json_object_object_add(d, "sends", s);
}

/* A number's state (numbers.h) in the merchant's words. */
static const char *
settings_state(const char *state)
{
	if (strcmp(state, NUM_ACTIVE) == 0)
		return "Sending";
	if (strcmp(state, NUM_UNVERIFIED) == 0)
		return "Needs its verification code";
	if (strcmp(state, NUM_PENDING_NAME) == 0)
		return "Waiting for Meta to approve the display name";
	if (strcmp(state, NUM_REGISTER_FAILED) == 0)
		return "Not registered";
	return state;
}

/*
 * A number also on the WhatsApp Business app: its throughput, and its
 * one-time syncs (contacts, then chats) offered or dated once run.
 */
static void
settings_coexistence(struct json_object *o, const struct num_row *n)
{
	json_object_object_add(o, "coexistence", json_object_new_boolean(1));
	json_object_object_add(o, "max_mps", json_object_new_int(n->max_mps));
	if (*n->synced_state_at)
		settings_add(o, "synced_state_at", n->synced_state_at);
	else
		json_object_object_add(o, "can_sync_state",
		    json_object_new_boolean(1));
	if (*n->synced_history_at)
		settings_add(o, "synced_history_at", n->synced_history_at);
	else if (*n->synced_state_at)
		json_object_object_add(o, "can_sync_history",
		    json_object_new_boolean(1));
}

/* The workspace's numbers, the default first (store_conn_page). */
static void
settings_numbers(struct json_object *d, const struct num_row *l, size_t n)
{
	struct json_object *arr, *o;
	size_t              i;

	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		settings_add(o, "id", l[i].id);
		settings_add(o, "display_phone_number",
		    l[i].display_phone_number);
		settings_add(o, "verified_name", l[i].verified_name);
		settings_add(o, "quality_rating", l[i].quality_rating);
		settings_add(o, "messaging_limit",
		    hm_limit_words(l[i].messaging_limit));
		settings_add(o, "state", l[i].state);
		settings_add(o, "state_label", settings_state(l[i].state));
		settings_add(o, "state_detail", l[i].state_detail);
		settings_add(o, "retry_after", l[i].retry_after);
		if (strcmp(l[i].state, NUM_UNVERIFIED) == 0)
			json_object_object_add(o, "unverified",
			    json_object_new_boolean(1));
		if (l[i].is_default)
			json_object_object_add(o, "is_default",
			    json_object_new_boolean(1));
		else if (strcmp(l[i].state, NUM_ACTIVE) == 0)
			json_object_object_add(o, "can_default",
			    json_object_new_boolean(1));
		if (l[i].coexistence)
			settings_coexistence(o, &l[i]);
		json_object_array_add(arr, o);
	}
	json_object_object_add(d, "phone_numbers", arr);
	if (n > 0)
		json_object_object_add(d, "has_numbers",
		    json_object_new_boolean(1));
}

/*
 * Embedded Signup v4 runs in Meta's popup, from a Facebook Login for
 * Business configuration: without [meta] config_id there is no popup,
 * and the page carries no script at all. With it, the Connect form keeps
 * posting to /connect (the redirect flow, without JavaScript), and its
 * data- attributes tell static/embedded_signup.js what FB.init and
 * FB.login need; only this answer's CSP lets the SDK in.
 */
static void
settings_popup(struct ctx *c, struct json_object *d)
{
	const struct config *cfg = c->app->cfg;
	struct json_object  *p;

	if (cfg->config_id == NULL)
		return;
	p = json_object_new_object();
	settings_add(p, "sdk_url", cfg->sdk_url);
	settings_add(p, "sdk_origin", c->app->sdk_origin);
	settings_add(p, "dialog_base_url", cfg->dialog_base_url);
	settings_add(p, "app_id", cfg->app_id);
	settings_add(p, "config_id", cfg->config_id);
	settings_add(p, "graph_version", cfg->graph_version);
	json_object_object_add(d, "popup", p);
	c->resp->allow_sdk = 1;
}

enum answer
h_settings(struct ctx *c)
{
	struct conn_page       p;
	const struct conn_row *r = &p.conn;
	struct json_object    *d, *ws, *cat;
	enum store_rc          rc;

	/* The page's one statement after the gate's (doc/architecture.md). */
	rc = store_conn_page(c->app->db, &c->ws, &p);
	if (rc != STORE_OK)
		store_conn_page_free(&p);
	if (rc == STORE_GONE)
		return view_error(c, 503,
		    "The database is not answering. "
		    "Please try again in a moment.");
	if (rc != STORE_OK)
		return view_error(c, 500,
		    "This workspace's data could not be "
		    "read. If this persists, ask your administrator to run "
		    "`waba-connect-admin migrate`.");
	if ((d = json_object_new_object()) == NULL) {
		store_conn_page_free(&p);
		return view_internal(c, "out of memory");
	}
	json_object_object_add(d, "title",
	    json_object_new_string("WhatsApp Connection"));
	ws = json_object_new_object();
	settings_add(ws, "name", c->ws.name);
	settings_add(ws, "slug", c->ws.slug);
	json_object_object_add(d, "workspace", ws);
	settings_add(d, "status", r->status);
	settings_add(d, "status_label", settings_label(r->status));
	settings_add(d, "reason", r->reason);
	json_object_object_add(d,
	    strcmp(r->status, "not_connected") == 0 ? "not_connected"
	                                            : "has_connection",
	    json_object_new_boolean(1));
	if (strcmp(r->status, "connected") == 0)
		json_object_object_add(d, "connected",
		    json_object_new_boolean(1));
	if (strcmp(r->status, "needs_reconnect") == 0)
		json_object_object_add(d, "needs_reconnect",
		    json_object_new_boolean(1));
	if (strcmp(r->status, "pending_phone_selection") == 0)
		json_object_object_add(d, "pending",
		    json_object_new_boolean(1));
	settings_add(d, "waba_id", r->waba_id);
	settings_add(d, "phone_number_id", r->phone_number_id);
	settings_add(d, "display_phone_number", r->display_phone_number);
	settings_add(d, "verified_name", r->verified_name);
	settings_add(d, "quality_rating", r->quality_rating);
	settings_add(d, "token_expires_at", r->token_expires_at);
	settings_add(d, "last_verified_at", r->last_verified_at);
	if (r->has_catalog) {
		cat = json_object_new_object();
		settings_add(cat, "id", r->catalog_id);
		settings_add(cat, "name", r->catalog_name);
		settings_add(cat, "status", r->catalog_status);
		settings_add(cat, "reason", r->catalog_reason);
		json_object_object_add(d, "catalog", cat);
	}
	{
		const char *m = c->in[SETTINGS_FLASH].s;
		size_t      i;
		for (i = 0; m && i < sizeof(flashes) / sizeof(flashes[0]); i++)
			if (strcmp(m, flashes[i].key) == 0) {
				struct json_object *f =
				    json_object_new_object();
				settings_add(f, "kind", flashes[i].kind);
				settings_add(f, "text", flashes[i].text);
				json_object_object_add(d, "flash", f);
			}
	}
	/* Warn a week ahead, before anything fails. */
	if (r->has_token && *r->token_expires_at &&
	    r->token_expires_in < 7 * 86400 &&
	    strcmp(r->status, "needs_reconnect") != 0) {
		json_object_object_add(d, "expiry_warning",
		    json_object_new_boolean(1));
		json_object_object_add(d, "expired",
		    json_object_new_boolean(r->token_expires_in <= 0));
	}
	settings_webhooks(c, d, &p);
	settings_sends(d, r);
	settings_health(d, c->app->cfg, &c->ws, &p);
	settings_templates(d, &p);
	settings_outbox(d, &p);
	if (r->has_token)
		settings_numbers(d, p.numbers, p.nnumbers);
	store_conn_page_free(&p);
	settings_popup(c, d);
	{
		char cb[600];
		snprintf(cb, sizeof(cb), "%s/webhooks/meta",
		    c->app->cfg->base_url);
		settings_add(d, "callback_url", cb);
	}
	return view_page(c, 200, "settings_whatsapp", d);
}
