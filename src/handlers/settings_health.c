/*
 * The settings page's Health card (what the monitor's last check found,
 * in the merchant's words, with what to do) and its Check now button:
 * the monitor's check of this workspace, run in the request, at most
 * once a minute per workspace (monitor_check_now).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../app.h"
#include "../config.h"
#include "../monitor.h"
#include "../store/connection.h"
#include "../store/monitor.h"
#include "handlers.h"
#include "meta.h"
#include "settings_health.h"

/* The card's rows, each with the warnings that belong to it. */
enum {
	ROW_SEND,
	ROW_LIMIT,
	ROW_QUALITY,
	ROW_NAME,
	ROW_HOOKS,
	ROW_TOKEN,
	ROW_OTHER,
	ROW_N
};

static const char *const row_keys[ROW_N] = { "can_send", "limit", "quality",
	"name", "webhooks", "token", "other" };

/* A warning's row by its code (monitor.c, mon_warn). */
static int
sh_row_of(const char *code)
{
	static const struct {
		const char *code;
		int         row;
	} m[] = {
		{ "can_send", ROW_SEND },
		{ "quality", ROW_QUALITY },
		{ "display_name", ROW_NAME },
		{ "callback_url", ROW_HOOKS },
		{ "subscription", ROW_HOOKS },
		{ "webhooks_silent", ROW_HOOKS },
		{ "token_expiring", ROW_TOKEN },
		/* The webhooks' (store/trouble.c); the rest under "Also". */
		{ "quality_flagged", ROW_QUALITY },
		{ "messaging_limit", ROW_LIMIT },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(code, m[i].code) == 0)
			return m[i].row;
	return ROW_OTHER;
}

static void
sh_add(struct json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

/* A row: its words, a kind (ok, warn, bad, unknown) for the eye. */
static struct json_object *
sh_row(struct json_object *card, int row, const char *words, const char *kind)
{
	struct json_object *o = json_object_new_object();

	sh_add(o, "words", words);
	sh_add(o, "kind", kind);
	json_object_object_add(card, row_keys[row], o);
	return o;
}

/* "in 5 days", "in 3 hours", "in 20 minutes" of s > 0 seconds. */
static void
sh_in(long long s, char *out, size_t len)
{
	if (s >= 2 * 86400)
		snprintf(out, len, "in %lld days", s / 86400);
	else if (s >= 2 * 3600)
		snprintf(out, len, "in %lld hours", s / 3600);
	else if (s >= 120)
		snprintf(out, len, "in %lld minutes", s / 60);
	else
		snprintf(out, len, "in a minute or two");
}

/* "just now", "12 minutes ago", "3 hours ago", "2 days ago". */
static void
sh_ago(long long s, char *out, size_t len)
{
	if (s < 60)
		snprintf(out, len, "just now");
	else if (s < 2 * 3600)
		snprintf(out, len, "%lld minute%s ago", s / 60,
		    s / 60 == 1 ? "" : "s");
	else if (s < 2 * 86400)
		snprintf(out, len, "%lld hours ago", s / 3600);
	else
		snprintf(out, len, "%lld days ago", s / 86400);
}

static void
sh_can_send(struct json_object *card, const char *v)
{
	if (strcmp(v, "AVAILABLE") == 0)
		sh_row(card, ROW_SEND, "Yes (AVAILABLE)", "ok");
	else if (strcmp(v, "LIMITED") == 0)
		sh_row(card, ROW_SEND,
		    "Limited (LIMITED): Meta restricts what this number can "
		    "send",
		    "warn");
	else if (strcmp(v, "BLOCKED") == 0)
		sh_row(card, ROW_SEND,
		    "No (BLOCKED): Meta does not let this number send", "bad");
	else
		sh_row(card, ROW_SEND, *v ? v : "Meta did not say", "unknown");
}

static void
sh_quality(struct json_object *card, const char *v)
{
	if (strcmp(v, "GREEN") == 0)
		sh_row(card, ROW_QUALITY, "High (green)", "ok");
	else if (strcmp(v, "YELLOW") == 0)
		sh_row(card, ROW_QUALITY, "Medium (yellow)", "warn");
	else if (strcmp(v, "RED") == 0)
		sh_row(card, ROW_QUALITY, "Low (red)", "bad");
	else
		sh_row(card, ROW_QUALITY,
		    *v && strcmp(v, "UNKNOWN") != 0 ? v : "Not rated yet",
		    "unknown");
}

/* Meta's name_status values (WhatsApp Business phone number). */
static void
sh_name(struct json_object *card, const char *v)
{
	if (strcmp(v, "APPROVED") == 0)
		sh_row(card, ROW_NAME, "Approved", "ok");
	else if (strcmp(v, "AVAILABLE_WITHOUT_REVIEW") == 0)
		sh_row(card, ROW_NAME, "Usable; Meta has not reviewed it yet",
		    "ok");
	else if (strcmp(v, "PENDING_REVIEW") == 0)
		sh_row(card, ROW_NAME, "Waiting for Meta's review", "warn");
	else if (strcmp(v, "DECLINED") == 0)
		sh_row(card, ROW_NAME,
		    "Declined by Meta: change it in WhatsApp Manager", "bad");
	else if (strcmp(v, "EXPIRED") == 0)
		sh_row(card, ROW_NAME,
		    "Expired: request it again in WhatsApp Manager", "bad");
	else if (strcmp(v, "NONE") == 0)
		sh_row(card, ROW_NAME, "None set", "warn");
	else
		sh_row(card, ROW_NAME, *v ? v : "Meta did not say", "unknown");
}

static void
sh_hooks(struct json_object *card, const struct conn_page *p)
{
	const struct mon_health *h = &p->health;
	char                     w[200];

	if (h->subscription_ok == 0)
		sh_row(card, ROW_HOOKS,
		    "No: our app is not subscribed to your WhatsApp Business "
		    "Account, so Meta sends us no messages or delivery reports. "
		    "Press Check now to subscribe it again; if that fails, "
		    "Reconnect.",
		    "bad");
	else if (h->webhook_ok == 0)
		sh_row(card, ROW_HOOKS, "No: see below what to do", "bad");
	else if (h->webhook_ok == 1 && *p->hooks_last) {
		snprintf(w, sizeof(w), "Yes; the last one arrived %s UTC",
		    p->hooks_last);
		sh_row(card, ROW_HOOKS, w, "ok");
	} else if (h->webhook_ok == 1)
		sh_row(card, ROW_HOOKS,
		    "Yes, Meta is set to call us; none has arrived yet", "ok");
	else
		sh_row(card, ROW_HOOKS, "Not known yet", "unknown");
}

static void
sh_token(struct json_object *card, const struct conn_row *r)
{
	char in[64], w[160];

	if (!*r->token_expires_at) {
		sh_row(card, ROW_TOKEN, "Does not expire", "ok");
		return;
	}
	if (r->token_expires_in <= 0) {
		snprintf(w, sizeof(w), "Expired on %s UTC: reconnect",
		    r->token_expires_at);
		sh_row(card, ROW_TOKEN, w, "bad");
		return;
	}
	sh_in(r->token_expires_in, in, sizeof(in));
	snprintf(w, sizeof(w), "Expires %s (%s UTC)", in, r->token_expires_at);
	sh_row(card, ROW_TOKEN, w, "ok");
}

/*
 * Each warning under its row, in Meta's words as the monitor stored
 * them (Meta's error_description and possible_solution among them); a
 * row that looked fine but has one is a warning.
 */
static void
sh_warnings(struct json_object *card, const char *text, int checked)
{
	struct json_object *arr, *w, *code, *msg, *row, *notes, *kind;
	size_t              i, n;
	int                 r;

	if (text == NULL || (arr = json_tokener_parse(text)) == NULL)
		return;
	if (!json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		w = json_object_array_get_idx(arr, i);
		if (!json_object_object_get_ex(w, "code", &code) ||
		    !json_object_object_get_ex(w, "message", &msg))
			continue;
		/* Unchecked, only the token's row and "Also" are shown. */
		r = sh_row_of(json_object_get_string(code));
		if (!checked && r != ROW_TOKEN)
			r = ROW_OTHER;
		if (!json_object_object_get_ex(card, row_keys[r], &row))
			row = sh_row(card, r, NULL, "warn");
		if (json_object_object_get_ex(row, "kind", &kind) &&
		    strcmp(json_object_get_string(kind), "ok") == 0)
			json_object_object_add(row, "kind",
			    json_object_new_string("warn"));
		if (!json_object_object_get_ex(row, "notes", &notes)) {
			notes = json_object_new_array();
			json_object_object_add(row, "notes", notes);
		}
		json_object_array_add(notes,
		    json_object_new_string(json_object_get_string(msg)));
	}
	if (n > 0)
		json_object_object_add(card, "has_warnings",
		    json_object_new_boolean(1));
	json_object_put(arr);
}

static void
sh_checks(struct json_object *card, const struct config *cfg,
    const struct workspace *ws, const struct conn_page *p)
{
	const struct mon_health *h = &p->health;
	long      interval = (long)cfg->monitor_interval_minutes * 60;
	long long next;
	char      w[200], rel[64];

	if (*h->checked_at) {
		sh_ago(p->now_unix - p->checked_unix, rel, sizeof(rel));
		snprintf(w, sizeof(w), "%s UTC (%s)", h->checked_at, rel);
		sh_add(card, "last_check", w);
	}
	if (*h->last_error) {
		sh_add(card, "last_error", h->last_error);
		sh_add(card, "last_error_at", h->last_error_at);
		sh_add(card, "next_check",
		    "in a few minutes: a check Meta did not answer is tried "
		    "again after 1, 2, 4... minutes");
		return;
	}
	if (!*h->checked_at) {
		sh_add(card, "next_check", "within minutes");
		return;
	}
	next = monitor_next_check(ws->id, interval, p->checked_unix);
	if (next <= p->now_unix) {
		sh_add(card, "next_check", "now due");
		return;
	}
	sh_in(next - p->now_unix, rel, sizeof(rel));
	snprintf(w, sizeof(w), "%s (every %d minutes)", rel,
	    cfg->monitor_interval_minutes);
	sh_add(card, "next_check", w);
}

void
settings_health(struct json_object *d, const struct config *cfg,
    const struct workspace *ws, const struct conn_page *p)
{
	const struct mon_health *h = &p->health;
	struct json_object      *card;

	if (!p->conn.has_token)
		return;
	card = json_object_new_object();
	json_object_object_add(d, "health", card);
	sh_checks(card, cfg, ws, p);
	if (!*h->checked_at) {
		/* A row with only last_error: no check ever finished. */
		json_object_object_add(card, "not_checked",
		    json_object_new_boolean(1));
		sh_token(card, &p->conn);
		/* The webhooks' warnings need no check. */
		sh_warnings(card, h->warnings, 0);
		return;
	}
	json_object_object_add(card, "checked", json_object_new_boolean(1));
	sh_can_send(card, h->can_send);
	sh_row(card, ROW_LIMIT,
	    *h->messaging_limit ? hm_limit_words(h->messaging_limit)
	                        : "Meta did not say",
	    *h->messaging_limit ? "ok" : "unknown");
	sh_quality(card, h->quality_rating);
	sh_name(card, h->name_status);
	sh_hooks(card, p);
	sh_token(card, &p->conn);
	sh_warnings(card, h->warnings, 1);
}

enum answer
h_check_now(struct ctx *c)
{
	struct conn_row r;
	int             warnings;

	if (store_conn_get(c->app->db, &c->ws, &r) != STORE_OK)
		return hm_db_down(c);
	if (!r.has_token || strcmp(r.status, "not_connected") == 0)
		return hm_back(c, "not_connected");
	switch (monitor_check_now(c->app->cfg, c->app->db, &c->app->vault,
	    c->app->graph, &c->ws, &warnings)) {
	case MON_NOW_OK:
		return hm_back(c, "check_ok");
	case MON_NOW_WARNINGS:
		return hm_back(c, "check_warnings");
	case MON_NOW_RECONNECT:
		return hm_back(c, "needs_reconnect");
	case MON_NOW_FAILED:
		return hm_back(c, "check_failed");
	case MON_NOW_NOT_CONNECTED:
		return hm_back(c, "not_connected");
	case MON_NOW_BUSY:
		return hm_back(c, "check_busy");
	case MON_NOW_DB:
		break;
	}
	return hm_db_down(c);
}
