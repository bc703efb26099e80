/*
 * store/monitor: the health monitor's leases (control database) and
 * health rows (workspace databases); store/monitor.h says what each
 * function promises. Times are the database server's UTC clock, one
 * clock for every monitor on every host: a lease's end and a
 * workspace's next check never depend on a host's own clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../buf.h"
#include "../meta_gate.h"
#include "events.h"
#include "monitor.h"
#include "sql.h"
#include "trouble.h"
#include "webhooks.h"
#include "workspaces.h"

/*
 * A workspace's next point (store_mon_release), as a DATETIME whatever
 * the session's time zone: phase + k * interval seconds since the epoch,
 * k the first that lands more than half an interval from now. Binds
 * phase, interval, interval, phase, interval.
 */
#define MON_UTC_EXPR \
	"DATE_ADD('1970-01-01 00:00:00', INTERVAL (? + ? * (FLOOR(" \
	"(UNIX_TIMESTAMP() + ? DIV 2 - ?) / ?) + 1)) SECOND)"

enum store_rc
store_mon_seed(struct db *db)
{
	return sq_do(db, NULL, NULL,
	    "INSERT IGNORE INTO `%s`.monitor_leases (workspace_id, "
	    "next_check_at) SELECT id, UTC_TIMESTAMP() FROM `%s`.workspaces "
	    "WHERE db_name IS NOT NULL",
	    sq_ctl(db), sq_ctl(db));
}

enum store_rc
store_mon_due(struct db *db, uint64_t *ids, size_t max, size_t *n)
{
	struct sq     q;
	enum store_rc rc;

	*n = 0;
	if ((rc = sq_rows(&q, db, NULL, SQ_ARGS(SQ_I((long long)max)),
	         "SELECT workspace_id FROM `%s`.monitor_leases WHERE "
	         "next_check_at <= UTC_TIMESTAMP() AND (lease_until IS NULL OR "
	         "lease_until < UTC_TIMESTAMP()) ORDER BY next_check_at LIMIT ?",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	while (*n < max && sq_fetch(&q) == 1)
		ids[(*n)++] = (uint64_t)sq_colint(&q, 0);
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_mon_claim(struct db *db, uint64_t id, const char *owner, long lease_s,
    int force, int *claimed)
{
	struct sq     q;
	enum store_rc rc;

	*claimed = 0;
	if ((rc = sq_do(db, NULL, SQ_ARGS(SQ_I((long long)id)),
	         "INSERT IGNORE INTO `%s`.monitor_leases (workspace_id, "
	         "next_check_at) VALUES (?, UTC_TIMESTAMP())",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	/*
	 * The one statement that decides: InnoDB locks the row, so of two
	 * monitors the second sees the first's lease_until and changes
	 * nothing (0 rows affected).
	 */
	if ((rc = sq_rows(&q, db, NULL,
	         SQ_ARGS(SQ_S(owner), SQ_I(lease_s), SQ_I((long long)id),
	             SQ_I(force != 0)),
	         "UPDATE `%s`.monitor_leases SET lease_owner = ?, lease_until = "
	         "DATE_ADD(UTC_TIMESTAMP(), INTERVAL ? SECOND) WHERE "
	         "workspace_id = ? AND (? OR next_check_at <= UTC_TIMESTAMP()) "
	         "AND (lease_until IS NULL OR lease_until < UTC_TIMESTAMP())",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	*claimed = sq_affected(&q) == 1;
	sq_close(&q);
	return STORE_OK;
}

/* keep: the lease's end stays (store_mon_release_held). */
static enum store_rc
mon_release(struct db *db, uint64_t id, const char *owner, int failed,
    long interval_s, long phase_s, int keep)
{
	if (interval_s < 1)
		interval_s = 1;
	phase_s %= interval_s;
	if (failed)
		/* next_check_at first: it reads failures before the +1. */
		return sq_do(db, NULL,
		    SQ_ARGS(SQ_I(interval_s), SQ_I(keep != 0),
		        SQ_I((long long)id), SQ_S(owner)),
		    "UPDATE `%s`.monitor_leases SET next_check_at = "
		    "DATE_ADD(UTC_TIMESTAMP(), INTERVAL LEAST(?, 60 * "
		    "POW(2, LEAST(failures, 16))) SECOND), "
		    "failures = failures + 1, lease_owner = NULL, "
		    "lease_until = IF(?, lease_until, NULL) WHERE "
		    "workspace_id = ? AND lease_owner <=> ?",
		    sq_ctl(db));
	/*
	 * The workspace's points are phase + k * interval: the first one
	 * at least half an interval from now. Checked at one of its
	 * points, the next is exactly one interval later.
	 */
	return sq_do(db, NULL,
	    SQ_ARGS(SQ_I(phase_s), SQ_I(interval_s), SQ_I(interval_s),
	        SQ_I(phase_s), SQ_I(interval_s), SQ_I(keep != 0),
	        SQ_I((long long)id), SQ_S(owner)),
	    "UPDATE `%s`.monitor_leases SET next_check_at = " MON_UTC_EXPR
	    ", failures = 0, lease_owner = NULL, lease_until = IF(?, "
	    "lease_until, NULL) WHERE workspace_id = ? AND lease_owner <=> ?",
	    sq_ctl(db));
}

enum store_rc
store_mon_due_now(struct db *db, uint64_t id)
{
	/* A lease held now is left alone: that check is under way. */
	return sq_do(db, NULL, SQ_ARGS(SQ_I((long long)id)),
	    "UPDATE `%s`.monitor_leases SET next_check_at = UTC_TIMESTAMP(), "
	    "failures = 0 WHERE workspace_id = ? AND (lease_until IS NULL OR "
	    "lease_until < UTC_TIMESTAMP())",
	    sq_ctl(db));
}

enum store_rc
store_mon_release(struct db *db, uint64_t id, const char *owner, int failed,
    long interval_s, long phase_s)
{
	return mon_release(db, id, owner, failed, interval_s, phase_s, 0);
}

enum store_rc
store_mon_release_held(struct db *db, uint64_t id, const char *owner,
    int failed, long interval_s, long phase_s)
{
	return mon_release(db, id, owner, failed, interval_s, phase_s, 1);
}

enum store_rc
store_mon_lease_get(struct db *db, uint64_t id, char next[32], int *failures)
{
	struct sq     q;
	enum store_rc rc;

	next[0] = '\0';
	*failures = 0;
	rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_I((long long)id)),
	    "SELECT next_check_at, failures FROM `%s`.monitor_leases WHERE "
	    "workspace_id = ?",
	    sq_ctl(db));
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	snprintf(next, 32, "%s", sq_col(&q, 0) ? sq_col(&q, 0) : "");
	*failures = (int)sq_colint(&q, 1);
	sq_close(&q);
	return STORE_OK;
}

/* ---- the health row ---------------------------------------------------- */

#define MON_COLS \
	"checked_at, can_send_message, messaging_limit, quality_rating, " \
	"name_status, throughput, token_expires_at, webhook_ok, " \
	"subscription_ok, warnings, last_error, last_error_at, hook_warnings"
/* The same, of the table aliased h. */
#define MON_COLS_H \
	"h.checked_at, h.can_send_message, h.messaging_limit, " \
	"h.quality_rating, h.name_status, h.throughput, h.token_expires_at, " \
	"h.webhook_ok, h.subscription_ok, h.warnings, h.last_error, " \
	"h.last_error_at, h.hook_warnings"

static void
mon_col(const struct sq *q, unsigned int i, char *dst, size_t size)
{
	snprintf(dst, size, "%s", sq_col(q, i) ? sq_col(q, i) : "");
}

static int
mon_colbool(const struct sq *q, unsigned int i)
{
	return sq_col(q, i) ? sq_colint(q, i) != 0 : -1;
}

const char *
store_mon_cols(void)
{
	return MON_COLS_H;
}

/* MON_COLS from column i on. */
enum store_rc
store_mon_from_row(const struct sq *q, unsigned int i, struct mon_health *h)
{
	h->has_row = 1;
	mon_col(q, i + 0, h->checked_at, sizeof(h->checked_at));
	mon_col(q, i + 1, h->can_send, sizeof(h->can_send));
	mon_col(q, i + 2, h->messaging_limit, sizeof(h->messaging_limit));
	mon_col(q, i + 3, h->quality_rating, sizeof(h->quality_rating));
	mon_col(q, i + 4, h->name_status, sizeof(h->name_status));
	mon_col(q, i + 5, h->throughput, sizeof(h->throughput));
	mon_col(q, i + 6, h->token_expires_at, sizeof(h->token_expires_at));
	h->webhook_ok = mon_colbool(q, i + 7);
	h->subscription_ok = mon_colbool(q, i + 8);
	if ((sq_col(q, i + 9) != NULL &&
	        (h->checked_warnings = strndup(sq_col(q, i + 9),
	             sq_collen(q, i + 9))) == NULL) ||
	    (sq_col(q, i + 12) != NULL &&
	        (h->hook_warnings = strndup(sq_col(q, i + 12),
	             sq_collen(q, i + 12))) == NULL))
		return STORE_ERR;
	mon_col(q, i + 10, h->last_error, sizeof(h->last_error));
	mon_col(q, i + 11, h->last_error_at, sizeof(h->last_error_at));
	/* What people are shown: the check's warnings, then the webhooks'. */
	if (h->hook_warnings == NULL || strcmp(h->hook_warnings, "[]") == 0) {
		if (h->checked_warnings != NULL &&
		    (h->warnings = strdup(h->checked_warnings)) == NULL)
			return STORE_ERR;
	} else if ((h->warnings = store_tr_merge(h->checked_warnings,
	                h->hook_warnings)) == NULL)
		return STORE_ERR;
	return STORE_OK;
}

static enum store_rc
mon_get_on(MYSQL *my, struct db *db, const struct workspace *ws,
    struct mon_health *h)
{
	struct sq     q;
	enum store_rc rc;

	memset(h, 0, sizeof(*h));
	h->webhook_ok = h->subscription_ok = -1;
	rc = my ? sq_one_on(&q, my, NULL,
	              "SELECT " MON_COLS " FROM `%s`.health WHERE id = 1 "
	              "FOR UPDATE",
	              ws->db_name)
	        : sq_one(&q, db, &ws->srv, NULL,
	              "SELECT " MON_COLS " FROM `%s`.health WHERE id = 1",
	              ws->db_name);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	rc = store_mon_from_row(&q, 0, h);
	sq_close(&q);
	return rc;
}

enum store_rc
store_mon_health_get(struct db *db, const struct workspace *ws,
    struct mon_health *h)
{
	return mon_get_on(NULL, db, ws, h);
}

enum store_rc
store_mon_status(struct db *db, const struct workspace *ws,
    struct mon_health *h, char last[32], long *count_24h)
{
	struct sq     q;
	char          cols[400];
	enum store_rc rc;

	memset(h, 0, sizeof(*h));
	h->webhook_ok = h->subscription_ok = -1;
	*last = '\0';
	*count_24h = 0;
	if (store_wh_health_cols(cols, sizeof(cols), ws) == -1)
		return STORE_ERR;
	/* One row whether or not the monitor ever wrote one. */
	if ((rc = sq_one(&q, db, &ws->srv, NULL,
	         "SELECT h.id IS NOT NULL, " MON_COLS_H ", %s FROM (SELECT 1) "
	         "AS one LEFT JOIN `%s`.health AS h ON h.id = 1",
	         cols, ws->db_name)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	if (sq_colint(&q, 0) != 0) {
		rc = store_mon_from_row(&q, 1, h);
	}
	snprintf(last, 32, "%s",
	    sq_col(&q, 1 + STORE_MON_NCOLS) ? sq_col(&q, 1 + STORE_MON_NCOLS)
	                                    : "");
	*count_24h = (long)sq_colint(&q, 2 + STORE_MON_NCOLS);
	sq_close(&q);
	return rc;
}

void
store_mon_health_free(struct mon_health *h)
{
	free(h->warnings);
	free(h->checked_warnings);
	free(h->hook_warnings);
	h->warnings = h->checked_warnings = h->hook_warnings = NULL;
}

/* "quality GREEN -> YELLOW; " when a and b differ; bit into *changed. */
static void
mon_diff(struct buf *b, const char *what, const char *a, const char *c,
    unsigned bit, unsigned *changed)
{
	if (strcmp(a, c) == 0)
		return;
	*changed |= bit;
	buf_printf(b, "%s %s -> %s; ", what, *a ? a : "-", *c ? c : "-");
}

static const char *
mon_flag(int v)
{
	return v < 0 ? "" : v ? "yes" : "no";
}

/*
 * Warnings (a JSON array's text) other than token_expiring, which has
 * its own event: how many, and the first one's message into first.
 */
static int
mon_risks(const char *warnings, char *first, size_t firstlen)
{
	json_object *a, *w, *v;
	size_t       i, n;
	int          risks = 0;

	if (first != NULL)
		*first = '\0';
	if (warnings == NULL || (a = json_tokener_parse(warnings)) == NULL)
		return 0;
	n = json_object_is_type(a, json_type_array)
	    ? json_object_array_length(a)
	    : 0;
	for (i = 0; i < n; i++) {
		w = json_object_array_get_idx(a, i);
		if (json_object_object_get_ex(w, "code", &v) &&
		    strcmp(json_object_get_string(v), "token_expiring") == 0)
			continue;
		if (risks++ == 0 && first != NULL &&
		    json_object_object_get_ex(w, "message", &v))
			snprintf(first, firstlen, "%s",
			    json_object_get_string(v));
	}
	json_object_put(a);
	return risks;
}

/* 1 when the JSON array text holds a warning with this code. */
static int
mon_has(const char *warnings, const char *code)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "\"code\":\"%s\"", code);
	return warnings != NULL && strstr(warnings, needle) != NULL;
}

/*
 * The events feed's side of a saved check (doc/contract.md, Health
 * monitor), in its transaction with the health row locked, so each
 * change is announced once however many passes see it: phone_quality
 * when the default number's quality changed, connection "expiring" when
 * the token's warning appeared, "at_risk" when other warnings appeared
 * where there were none, "restored" when they all went. *emitted: 1
 * when any was written.
 */
static enum store_rc
mon_events_on(MYSQL *my, const struct workspace *ws,
    const struct mon_health *old, const struct mon_health *h, unsigned changed,
    int *emitted)
{
	json_object  *o;
	char          first[600];
	const char   *s;
	int           was, now;
	enum store_rc rc = STORE_OK;

	if ((changed & MON_CH_QUALITY) && *old->checked_at &&
	    *h->quality_rating) {
		if ((o = json_object_new_object()) == NULL)
			return STORE_ERR;
		json_object_object_add(o, "quality_rating",
		    json_object_new_string(h->quality_rating));
		json_object_object_add(o, "previous",
		    *old->quality_rating
		        ? json_object_new_string(old->quality_rating)
		        : NULL);
		json_object_object_add(o, "source",
		    json_object_new_string("monitor"));
		snprintf(first, sizeof(first), "q:%s", h->quality_rating);
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		rc = s ? store_ev_emit_on(my, ws, "phone_quality", first,
		             h->quality_rating, NULL, NULL, s)
		       : STORE_ERR;
		json_object_put(o);
		if (rc != STORE_OK)
			return rc;
		*emitted = 1;
	}
	if (mon_has(h->warnings, "token_expiring") &&
	    !mon_has(old->checked_warnings, "token_expiring")) {
		snprintf(first, sizeof(first),
		    "the access token expires at %s UTC", h->token_expires_at);
		if ((rc = store_ev_connection_on(my, ws, "expiring", first)) !=
		    STORE_OK)
			return rc;
		*emitted = 1;
	}
	was = mon_risks(old->checked_warnings, NULL, 0);
	now = mon_risks(h->warnings, first, sizeof(first));
	if (now > 0 && was == 0)
		rc = store_ev_connection_on(my, ws, "at_risk", first);
	else if (now == 0 && was > 0)
		rc = store_ev_connection_on(my, ws, "restored",
		    "the health check finds nothing wrong any more");
	else
		return STORE_OK;
	if (rc == STORE_OK)
		*emitted = 1;
	return rc;
}

enum store_rc
store_mon_health_save(struct db *db, const struct workspace *ws,
    const struct mon_health *h, unsigned *changed)
{
	struct mon_health old;
	struct buf        d = BUF_INIT;
	MYSQL            *my;
	const char       *w = h->warnings ? h->warnings : "[]";
	enum store_rc     rc;
	int               emitted = 0;

	*changed = 0;
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = mon_get_on(my, db, ws, &old)) != STORE_OK)
		goto fail;
	mon_diff(&d, "can send", old.can_send, h->can_send, MON_CH_CAN_SEND,
	    changed);
	mon_diff(&d, "quality", old.quality_rating, h->quality_rating,
	    MON_CH_QUALITY, changed);
	mon_diff(&d, "messaging limit", old.messaging_limit, h->messaging_limit,
	    MON_CH_LIMIT, changed);
	mon_diff(&d, "display name", old.name_status, h->name_status,
	    MON_CH_NAME, changed);
	mon_diff(&d, "webhooks reach us", mon_flag(old.webhook_ok),
	    mon_flag(h->webhook_ok), MON_CH_HOOKS, changed);
	mon_diff(&d, "subscribed", mon_flag(old.subscription_ok),
	    mon_flag(h->subscription_ok), MON_CH_HOOKS, changed);
	if (strcmp(old.checked_warnings ? old.checked_warnings : "[]", w) !=
	    0) {
		*changed |= MON_CH_WARNINGS;
		buf_printf(&d, "warnings %s", w);
	}
	rc = sq_do_on(my,
	    SQ_ARGS(SQ_S(*h->can_send ? h->can_send : NULL),
	        SQ_S(*h->messaging_limit ? h->messaging_limit : NULL),
	        SQ_S(*h->quality_rating ? h->quality_rating : NULL),
	        SQ_S(*h->name_status ? h->name_status : NULL),
	        SQ_S(*h->throughput ? h->throughput : NULL),
	        SQ_S(*h->token_expires_at ? h->token_expires_at : NULL),
	        h->webhook_ok < 0 ? SQ_NULL : SQ_I(h->webhook_ok),
	        h->subscription_ok < 0 ? SQ_NULL : SQ_I(h->subscription_ok),
	        SQ_S(w), SQ_S(old.hook_warnings)),
	    /* The webhooks' warnings stay as they were (row locked). */
	    "REPLACE INTO `%s`.health (id, checked_at, can_send_message, "
	    "messaging_limit, quality_rating, name_status, throughput, "
	    "token_expires_at, webhook_ok, subscription_ok, warnings, "
	    "last_error, last_error_at, hook_warnings) VALUES (1, "
	    "UTC_TIMESTAMP(), ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
	    ws->db_name);
	if (rc != STORE_OK ||
	    (rc = mon_events_on(my, ws, &old, h, *changed, &emitted)) !=
	        STORE_OK)
		goto fail;
	/* The first check of a workspace is a change from nothing. */
	if ((*changed != 0 || !old.has_row || *old.last_error) &&
	    (rc = sq_do_on(my,
	         SQ_ARGS(
	             SQ_S(d.len ? buf_str(&d) : "checked, nothing changed")),
	         "INSERT INTO `%s`.audit_log (at, actor, action, detail) "
	         "VALUES (UTC_TIMESTAMP(), 'monitor', 'health', LEFT(?, 500))",
	         ws->db_name)) != STORE_OK)
		goto fail;
	if ((rc = sq_commit(db, my)) == STORE_OK && emitted)
		gate_events_bump(ws->id);
	store_mon_health_free(&old);
	buf_free(&d);
	return rc;
fail:
	sq_rollback(db, my);
	store_mon_health_free(&old);
	buf_free(&d);
	return rc;
}

enum store_rc
store_mon_health_failed(struct db *db, const struct workspace *ws,
    const char *why)
{
	struct sq     q;
	enum store_rc rc;
	int           first;

	if ((rc = sq_rows(&q, db, &ws->srv, SQ_ARGS(SQ_S(why)),
	         "INSERT INTO `%s`.health (id, last_error, last_error_at) "
	         "VALUES (1, LEFT(?, 500), UTC_TIMESTAMP()) ON DUPLICATE KEY "
	         "UPDATE last_error = VALUES(last_error), last_error_at = "
	         "IF(last_error IS NULL, VALUES(last_error_at), last_error_at)",
	         ws->db_name)) != STORE_OK)
		return rc;
	/* MariaDB: 1 inserted, 2 updated, 0 unchanged (the same error). */
	first = sq_affected(&q) != 0;
	sq_close(&q);
	if (!first)
		return STORE_OK;
	return sq_do(db, &ws->srv, SQ_ARGS(SQ_S(why)),
	    "INSERT INTO `%s`.audit_log (at, actor, action, detail) VALUES "
	    "(UTC_TIMESTAMP(), 'monitor', 'health_check_failed', LEFT(?, 500))",
	    ws->db_name);
}

enum store_rc
store_mon_sends(struct db *db, const struct workspace *ws, int minutes,
    long *ok, int *webhook_seen)
{
	struct sq     q;
	enum store_rc rc;

	*ok = 0;
	*webhook_seen = 0;
	rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_I(minutes), SQ_I(minutes)),
	    "SELECT (SELECT COALESCE(SUM(ok), 0) FROM `%s`.send_hourly WHERE "
	    "hour >= DATE_FORMAT(UTC_TIMESTAMP() - INTERVAL ? MINUTE, "
	    "'%%Y-%%m-%%d %%H:00:00')), (SELECT COUNT(*) FROM "
	    "`%s`.webhook_hourly WHERE last_at >= UTC_TIMESTAMP() - "
	    "INTERVAL ? MINUTE)",
	    ws->db_name, ws->db_name);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	*ok = (long)sq_colint(&q, 0);
	*webhook_seen = sq_colint(&q, 1) > 0;
	sq_close(&q);
	return STORE_OK;
}
