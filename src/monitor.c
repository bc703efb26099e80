/*
 * monitor: one health check per due workspace (monitor.h). A check
 * reads Meta in a fixed order, each step only when the one before
 * passed: debug_token (a dead token or an ungranted WABA is
 * needs_reconnect, and nothing more can be learnt), each active number
 * with its health fields, the WABA's subscribed_apps. A Meta failure
 * (timeout, 5xx, breaker open) ends the check: the values already
 * stored stay, last_error says why, and the lease backs off. Warnings
 * are built as the JSON array status --json shows, {"code", "message",
 * "phone_number_id"?}, and stored whole; what changed is audited and
 * announced in the events feed by the store, in the same transaction.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"
#include "graph.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "store/connection.h"
#include "store/monitor.h"
#include "store/numbers.h"
#include "store/workspaces.h"
#include "vault.h"

#define MON_BATCH     64 /* due workspaces read at once */
#define MON_NUMBERS   10 /* active numbers read per check */
#define MON_SLEEP_S   30 /* between two passes */
#define MON_HOOK_PATH "/webhooks/meta"

enum mon_outcome {
	MON_DONE,   /* finished: due again in one interval */
	MON_FAILED, /* Meta or the database failed: back off */
	MON_SKIPPED /* nothing to check (not connected) */
};

/* One check's findings. */
struct mon_check {
	struct monitor         *m;
	const struct workspace *ws;
	struct conn_row         conn;
	struct mon_health       old, now;
	json_object            *warnings;
	char                    token_err[300];
};

static void
mon_setup(struct monitor *m, const struct config *cfg, struct db *db,
    struct vault **vault, struct graph *graph)
{
	char host[64];

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->db = db;
	m->vault = vault;
	m->graph = graph;
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(m->owner, sizeof(m->owner), "%s:%ld", host, (long)getpid());
}

void
monitor_init(struct monitor *m, const struct config *cfg, struct db *db,
    struct vault **vault, struct graph *graph)
{
	mon_setup(m, cfg, db, vault, graph);
	graph_set_background(graph);
}

/*
 * Each call of the monitor's own has its own request budget; a check a
 * merchant asked for shares its request's one (and its bulkhead slot),
 * like any page's calls.
 */
static void
mon_budget(struct mon_check *k)
{
	if (!k->m->in_request)
		graph_budget_start(k->m->graph);
}

static void mon_warn(struct mon_check *k, const char *code, const char *phone,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
mon_warn(struct mon_check *k, const char *code, const char *phone,
    const char *fmt, ...)
{
	json_object *w;
	char         msg[900];
	va_list      ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((w = json_object_new_object()) == NULL)
		return;
	json_object_object_add(w, "code", json_object_new_string(code));
	json_object_object_add(w, "message", json_object_new_string(msg));
	if (phone != NULL)
		json_object_object_add(w, "phone_number_id",
		    json_object_new_string(phone));
	json_object_array_add(k->warnings, w);
}

/* "YYYY-MM-DD HH:MM:SS" UTC of a unix time. */
static void
mon_utc(int64_t t, char out[32])
{
	struct tm tm;
	time_t    tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		out[0] = '\0';
}

/* Meta's error for the log and last_error: no token, no URL in it. */
static void
mon_meta_failed(struct mon_check *k, const char *step,
    const struct graph_err *e)
{
	char why[700];

	snprintf(why, sizeof(why), "%s: %s%s (HTTP %ld, code %ld)", step,
	    e->unavailable ? "Meta not called: " : "", e->message,
	    e->http_status, e->code);
	log_warn("monitor: workspace %s: %s, fbtrace_id %s", k->ws->slug, why,
	    graph_err_trace(e));
	store_mon_health_failed(k->m->db, k->ws, why);
}

/* The token is dead or no longer grants the WABA. */
static enum mon_outcome
mon_reconnect(struct mon_check *k, const char *reason)
{
	log_info("monitor: workspace %s: needs_reconnect: %s", k->ws->slug,
	    reason);
	k->m->found_reconnect = 1;
	/* Once: a repeat would audit (and announce) it every interval. */
	if ((strcmp(k->conn.status, "needs_reconnect") != 0 ||
	        strcmp(k->conn.reason, reason) != 0) &&
	    store_conn_mark(k->m->db, k->ws, "needs_reconnect", reason) !=
	        STORE_OK)
		return MON_FAILED;
	return MON_DONE;
}

static int
mon_token(struct mon_check *k, struct vault_secret *tok)
{
	struct vault_box box;
	char             err[256];
	enum store_rc    rc;

	memset(tok, 0, sizeof(*tok));
	if ((rc = store_conn_token_get(k->m->db, k->ws, VAULT_KIND_WABA,
	         &box)) != STORE_OK)
		return -1;
	if (!vault_has_version(*k->m->vault, box.key_version))
		(void)vault_refresh(k->m->vault, k->m->cfg->key_ring_file, err,
		    sizeof(err));
	if (vault_decrypt(*k->m->vault, k->ws->id, VAULT_KIND_WABA, &box, tok,
	        err, sizeof(err)) == -1) {
		/* Names the workspace; says nothing of the token. */
		log_err("monitor: %s", err);
		snprintf(k->token_err, sizeof(k->token_err),
		    "the stored token could not be decrypted (the key ring "
		    "does not match)");
	}
	vault_box_free(&box);
	return tok->data ? 0 : -1;
}

static void
mon_expiry(struct mon_check *k, int64_t expires_at)
{
	int64_t left = expires_at - (int64_t)time(NULL);

	if (expires_at == 0)
		return;
	mon_utc(expires_at, k->now.token_expires_at);
	if (left < (int64_t)k->m->cfg->monitor_expiry_warning_days * 86400)
		mon_warn(k, "token_expiring", NULL,
		    "The access token expires on %s UTC (in %lld days): "
		    "reconnect WhatsApp before then, or messages stop.",
		    k->now.token_expires_at,
		    (long long)(left > 0 ? left / 86400 : 0));
}

/* What one number says: its warnings, and the scalars for the default. */
static void
mon_number(struct mon_check *k, const struct num_row *n,
    const struct graph_phone_health *h)
{
	const struct graph_phone *p = &h->phone;
	const char               *hook = graph_hook_effective(h);
	char                      want[1100], why[1200];
	size_t                    i, off = 0;

	if (n->is_default) {
		snprintf(k->now.can_send, sizeof(k->now.can_send), "%s",
		    h->can_send);
		snprintf(k->now.messaging_limit, sizeof(k->now.messaging_limit),
		    "%s", h->messaging_limit);
		snprintf(k->now.quality_rating, sizeof(k->now.quality_rating),
		    "%s", p->quality_rating);
		snprintf(k->now.name_status, sizeof(k->now.name_status), "%s",
		    p->name_status);
		snprintf(k->now.throughput, sizeof(k->now.throughput), "%s",
		    h->throughput);
	}
	if (strcmp(p->quality_rating, "YELLOW") == 0 ||
	    strcmp(p->quality_rating, "RED") == 0)
		mon_warn(k, "quality", p->id,
		    "%s: quality rating %s: recipients are blocking or "
		    "reporting its messages; Meta may lower its messaging "
		    "limit.",
		    p->display_phone_number, p->quality_rating);
	if (strcmp(h->can_send, "LIMITED") == 0 ||
	    strcmp(h->can_send, "BLOCKED") == 0) {
		why[0] = '\0';
		for (i = 0; i < h->nerrors && off < sizeof(why); i++)
			off += (size_t)snprintf(why + off, sizeof(why) - off,
			    " %s (%s, error %ld)%s%s", h->errors[i].description,
			    h->errors[i].entity, h->errors[i].code,
			    *h->errors[i].solution ? " What to do: " : "",
			    h->errors[i].solution);
		mon_warn(k, "can_send", p->id,
		    "%s: Meta says messaging is %s.%s", p->display_phone_number,
		    h->can_send, *why ? why : " Meta gave no reason.");
	}
	if (strcmp(p->name_status, "DECLINED") == 0 ||
	    strcmp(p->name_status, "EXPIRED") == 0)
		mon_warn(k, "display_name", p->id,
		    "%s: display name %s: change it in WhatsApp Manager.",
		    p->display_phone_number, p->name_status);
	if (*p->status && strcmp(p->status, "CONNECTED") != 0)
		mon_warn(k, "number_status", p->id,
		    "%s: Meta reports the number as %s.",
		    p->display_phone_number, p->status);
	snprintf(want, sizeof(want), "%s" MON_HOOK_PATH, k->m->cfg->base_url);
	if (h->has_hooks && strcmp(hook, want) != 0) {
		if (n->is_default)
			k->now.webhook_ok = 0;
		mon_warn(k, "callback_url", p->id,
		    "%s: Meta delivers its webhooks to %s, not to %s: inbound "
		    "messages and delivery reports do not reach us.",
		    p->display_phone_number, *hook ? hook : "no callback URL",
		    want);
	}
}

/*
 * The number's row (and the connection's mirror of the default) takes
 * what Meta said, as Verify's does: the page's numbers table and its
 * quality then agree with the Health card.
 */
static void
mon_refresh(struct mon_check *k, const struct graph_phone_health *h)
{
	const struct graph_phone *p = &h->phone;
	struct num_add            a;

	memset(&a, 0, sizeof(a));
	a.id = p->id;
	a.display_phone_number = p->display_phone_number;
	a.verified_name = p->verified_name;
	a.quality_rating = p->quality_rating;
	a.status = p->status;
	a.code_verification_status = p->code_verification_status;
	a.messaging_limit = *h->messaging_limit ? h->messaging_limit
	                                        : p->messaging_limit_tier;
	a.coexistence = p->on_biz_app;
	if (store_num_refresh(k->m->db, k->ws, &a) != STORE_OK)
		log_warn("monitor: workspace %s: number %s: its details could "
		         "not be stored",
		    k->ws->slug, p->id);
}

static enum mon_outcome
mon_numbers(struct mon_check *k, const char *token)
{
	struct graph_phone_health h;
	struct graph_err          e;
	struct num_row           *nums = NULL;
	size_t                    n = 0, i, read = 0;
	enum mon_outcome          out = MON_DONE;

	if (store_num_list(k->m->db, k->ws, &nums, &n) != STORE_OK)
		return MON_FAILED;
	for (i = 0; i < n && read < MON_NUMBERS; i++) {
		if (strcmp(nums[i].state, NUM_ACTIVE) != 0)
			continue;
		read++;
		mon_budget(k);
		if (graph_phone_health(k->m->graph, token, nums[i].id, &h,
		        &e) == -1) {
			mon_meta_failed(k, "reading a phone number", &e);
			out = MON_FAILED;
			break;
		}
		mon_number(k, &nums[i], &h);
		mon_refresh(k, &h);
	}
	free(nums);
	return out;
}

/* Our app must be subscribed to the WABA, or no webhook is sent us. */
static enum mon_outcome
mon_subscription(struct mon_check *k, const char *token)
{
	struct graph_err e;
	char             detail[600];
	int              sub;

	if (*k->conn.waba_id == '\0')
		return MON_DONE;
	mon_budget(k);
	if (graph_subscribed_apps(k->m->graph, token, k->conn.waba_id, &sub,
	        &e) == -1) {
		mon_meta_failed(k, "reading the WABA's subscribed apps", &e);
		return MON_FAILED;
	}
	k->now.subscription_ok = sub;
	if (sub)
		return MON_DONE;
	/* Idempotent at Meta: subscribing twice is one subscription. */
	mon_budget(k);
	if (graph_subscribe(k->m->graph, token, k->conn.waba_id, &e) == 0) {
		k->now.subscription_ok = 1;
		snprintf(detail, sizeof(detail),
		    "our app was no longer subscribed to WABA %s's webhooks: "
		    "subscribed it again",
		    k->conn.waba_id);
		log_info("monitor: workspace %s: %s", k->ws->slug, detail);
		store_conn_audit(k->m->db, k->ws, "monitor", "resubscribed",
		    detail);
		return MON_DONE;
	}
	snprintf(detail, sizeof(detail),
	    "subscribing again failed: %s (code %ld)", e.message, e.code);
	store_conn_audit(k->m->db, k->ws, "monitor", "resubscribe_failed",
	    detail);
	mon_warn(k, "subscription", NULL,
	    "Our app is not subscribed to the WhatsApp Business Account %s, "
	    "so Meta sends us none of its webhooks; subscribing again "
	    "failed: %s. Reconnect WhatsApp.",
	    k->conn.waba_id, e.message);
	return MON_DONE;
}

static void
mon_silence(struct mon_check *k)
{
	long ok;
	int  seen, min = k->m->cfg->webhook_silence_minutes;

	if (store_mon_sends(k->m->db, k->ws, min, &ok, &seen) != STORE_OK ||
	    ok == 0 || seen)
		return;
	k->now.webhook_ok = 0;
	mon_warn(k, "webhooks_silent", NULL,
	    "%ld messages were sent in the last %d minutes but no webhook "
	    "reached us: delivery reports and replies are not arriving.",
	    ok, min);
}

/* A passing check restores what only it may (as Verify does). */
static enum mon_outcome
mon_passed(struct mon_check *k, const struct graph_token_info *ti)
{
	struct conn_row after;
	int             restricted;

	if (store_conn_verified(k->m->db, k->ws, ti->expires_at, ti->scopes,
	        NULL, &restricted) != STORE_OK ||
	    store_conn_get(k->m->db, k->ws, &after) != STORE_OK)
		return MON_FAILED;
	if (strcmp(k->conn.status, "needs_reconnect") == 0 &&
	    strcmp(after.status, "needs_reconnect") != 0) {
		/* store_conn_verified wrote the feed's "restored". */
		store_conn_audit(k->m->db, k->ws, "monitor", "restored",
		    "a passing health check: the connection works again");
	}
	return MON_DONE;
}

static enum mon_outcome
mon_check_token(struct mon_check *k, const char *token)
{
	struct graph_token_info ti;
	struct graph_err        e;
	char                    reason[300];
	enum mon_outcome        out;
	unsigned                changed;
	const char             *w;

	mon_budget(k);
	if (graph_debug_token(k->m->graph, token, &ti, &e) == -1) {
		mon_meta_failed(k, "checking the token", &e);
		return MON_FAILED;
	}
	if (!ti.is_valid)
		return mon_reconnect(k, graph_reason_190(ti.error_subcode));
	if (*k->conn.waba_id && !graph_token_has_waba(&ti, k->conn.waba_id)) {
		snprintf(reason, sizeof(reason),
		    "this connection no longer has access to the WhatsApp "
		    "Business Account %s; reconnect and share it again on "
		    "Meta's page",
		    k->conn.waba_id);
		return mon_reconnect(k, reason);
	}
	mon_expiry(k, ti.expires_at);
	if ((out = mon_numbers(k, token)) != MON_DONE)
		return out;
	if ((out = mon_passed(k, &ti)) != MON_DONE)
		return out;
	/* A connection waiting for the merchant is not re-subscribed. */
	if (store_conn_get(k->m->db, k->ws, &k->conn) != STORE_OK)
		return MON_FAILED;
	if (strcmp(k->conn.status, "connected") == 0 &&
	    (out = mon_subscription(k, token)) != MON_DONE)
		return out;
	mon_silence(k);
	if (k->now.webhook_ok < 0 && k->now.subscription_ok >= 0)
		k->now.webhook_ok = k->now.subscription_ok;
	w = json_object_to_json_string_ext(k->warnings,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (w == NULL || (k->now.warnings = strdup(w)) == NULL)
		return MON_FAILED;
	if (store_mon_health_save(k->m->db, k->ws, &k->now, &changed) !=
	    STORE_OK)
		return MON_FAILED;
	/* The feed's events were written with the row (store/monitor.h). */
	if (changed != 0)
		log_info("monitor: workspace %s: health changed (0x%x)",
		    k->ws->slug, changed);
	k->m->found_warnings = (int)json_object_array_length(k->warnings);
	return MON_DONE;
}

static enum mon_outcome
mon_check(struct monitor *m, const struct workspace *ws)
{
	struct mon_check    k;
	struct vault_secret tok;
	enum mon_outcome    out = MON_FAILED;

	memset(&k, 0, sizeof(k));
	m->found_warnings = -1;
	m->found_reconnect = 0;
	k.m = m;
	k.ws = ws;
	k.now.webhook_ok = k.now.subscription_ok = -1;
	if (store_conn_get(m->db, ws, &k.conn) != STORE_OK)
		return MON_FAILED;
	if (!k.conn.has_token || strcmp(k.conn.status, "not_connected") == 0)
		return MON_SKIPPED;
	if (store_mon_health_get(m->db, ws, &k.old) != STORE_OK ||
	    (k.warnings = json_object_new_array()) == NULL)
		goto out;
	if (mon_token(&k, &tok) == -1) {
		if (*k.token_err) {
			/* Not Meta's doing, and no retry fixes it soon. */
			store_mon_health_failed(m->db, ws, k.token_err);
			out = MON_DONE;
		}
		goto out;
	}
	out = mon_check_token(&k, tok.data);
	vault_secret_free(&tok);
out:
	graph_budget_end(m->graph);
	json_object_put(k.warnings);
	store_mon_health_free(&k.old);
	store_mon_health_free(&k.now);
	return out;
}

/* A stable point in the interval for each workspace (Knuth's hash). */
static long
mon_phase(uint64_t id, long interval_s)
{
	return (long)((id * 2654435761u) % (uint64_t)interval_s);
}

static void
mon_one(struct monitor *m, uint64_t id, const struct workspace *known,
    int force)
{
	struct workspace ws;
	enum mon_outcome out;
	long             interval = (long)m->cfg->monitor_interval_minutes * 60;
	/* Longer than any check: its calls are bounded by their budgets. */
	long lease = 6 * (m->cfg->request_budget_ms / 1000) + 60;
	int  claimed;

	if (store_mon_claim(m->db, id, m->owner, lease, force, &claimed) !=
	    STORE_OK) {
		m->failed++;
		m->stuck++;
		return;
	}
	if (!claimed) {
		m->busy += force;
		return;
	}
	if (known != NULL)
		ws = *known;
	else if (store_ws_by_id(m->db, id, &ws) != STORE_OK) {
		store_mon_release(m->db, id, m->owner, 1, interval, 0);
		m->failed++;
		return;
	}
	out = mon_check(m, &ws);
	if (out == MON_FAILED)
		m->failed++;
	else if (out == MON_SKIPPED)
		m->skipped++;
	else
		m->checked++;
	store_mon_release(m->db, id, m->owner, out == MON_FAILED, interval,
	    mon_phase(id, interval));
	if (m->progress_every > 0 &&
	    (m->checked + m->failed + m->skipped) % m->progress_every == 0)
		fprintf(stderr,
		    "monitor: %d workspaces so far (%d checked, %d failed, %d "
		    "not connected)\n",
		    m->checked + m->failed + m->skipped, m->checked, m->failed,
		    m->skipped);
}

enum store_rc
monitor_pass(struct monitor *m, const struct workspace *only)
{
	uint64_t      ids[MON_BATCH];
	size_t        n, i;
	int           done;
	enum store_rc rc;

	m->checked = m->failed = m->skipped = m->busy = m->stuck = 0;
	if (only != NULL) {
		mon_one(m, only->id, only, 1);
		return STORE_OK;
	}
	if ((rc = store_mon_seed(m->db)) != STORE_OK)
		return rc;
	/*
	 * A released workspace is due again only later: this ends. A batch
	 * of which nothing could be claimed or released (the control
	 * database failing under us) would come back as it was: stop.
	 */
	do {
		if ((rc = store_mon_due(m->db, ids, MON_BATCH, &n)) != STORE_OK)
			return rc;
		done = m->stuck;
		for (i = 0; i < n && !(m->stop && *m->stop); i++)
			mon_one(m, ids[i], NULL, 0);
		if (n > 0 && m->stuck - done == (int)n)
			break;
	} while (n == MON_BATCH && !(m->stop && *m->stop));
	return STORE_OK;
}

void
monitor_loop(struct monitor *m, const sigset_t *wait_mask)
{
	struct timespec pause = { MON_SLEEP_S, 0 };

	log_info("monitor: started as %s, each workspace every %d minutes",
	    m->owner, m->cfg->monitor_interval_minutes);
	while (!*m->stop) {
		struct timespec t0, t1;
		enum store_rc   rc;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = monitor_pass(m, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* GET /metrics: the pool's monitor child shares its counters. */
		metrics_monitor_pass((long long)(t1.tv_sec - t0.tv_sec) *
		            1000000 +
		        (t1.tv_nsec - t0.tv_nsec) / 1000,
		    rc != STORE_OK || m->failed > 0);
		if (rc != STORE_OK)
			log_warn("monitor: the control database failed; "
			         "trying again in %d s",
			    MON_SLEEP_S);
		else if (m->checked + m->failed > 0)
			log_info("monitor: pass done: %d checked, %d failed",
			    m->checked, m->failed);
		if (*m->stop)
			break;
		/* Signals come in only here (and end the sleep). */
		if (ppoll(NULL, 0, &pause, wait_mask) == -1 && errno != EINTR)
			break;
	}
	log_info("monitor: stopped");
}

int64_t
monitor_next_check(uint64_t id, long interval_s, int64_t t)
{
	int64_t phase, k;

	if (interval_s < 1)
		interval_s = 1;
	phase = mon_phase(id, interval_s);
	/* store_mon_release's MON_UTC_EXPR, in C; floor for t < phase too. */
	k = t + interval_s / 2 - phase;
	k = (k >= 0 ? k / interval_s : -((-k + interval_s - 1) / interval_s)) +
	    1;
	return phase + interval_s * k;
}

enum mon_now
monitor_check_now(const struct config *cfg, struct db *db, struct vault **vault,
    struct graph *graph, const struct workspace *ws, int *warnings)
{
	struct monitor   m;
	enum mon_outcome out;
	long             interval = (long)cfg->monitor_interval_minutes * 60;
	/*
	 * The lease is the rate limit: held from the press for a minute, or
	 * for as long as the request may take if that is longer.
	 */
	long hold = cfg->request_budget_ms / 1000 + 10;
	int  claimed;

	*warnings = 0;
	if (hold < MONITOR_NOW_GAP_S)
		hold = MONITOR_NOW_GAP_S;
	mon_setup(&m, cfg, db, vault, graph);
	m.in_request = 1;
	if (store_mon_claim(db, ws->id, m.owner, hold, 1, &claimed) != STORE_OK)
		return MON_NOW_DB;
	if (!claimed)
		return MON_NOW_BUSY;
	out = mon_check(&m, ws);
	if (store_mon_release_held(db, ws->id, m.owner, out == MON_FAILED,
	        interval, mon_phase(ws->id, interval)) != STORE_OK)
		log_warn("monitor: workspace %s: the lease could not be given "
		         "back: it frees itself in %ld s",
		    ws->slug, hold);
	log_info("monitor: workspace %s: checked on request (%s)", ws->slug,
	    out == MON_FAILED        ? "failed"
	        : out == MON_SKIPPED ? "not connected"
	                             : "done");
	if (out == MON_SKIPPED)
		return MON_NOW_NOT_CONNECTED;
	if (out == MON_FAILED)
		return MON_NOW_FAILED;
	if (m.found_reconnect)
		return MON_NOW_RECONNECT;
	/* Done but nothing saved: the token could not be decrypted. */
	if (m.found_warnings < 0)
		return MON_NOW_FAILED;
	*warnings = m.found_warnings > 0 ? m.found_warnings : 0;
	return *warnings ? MON_NOW_WARNINGS : MON_NOW_OK;
}
