/*
 * store_wh_*: Meta's deliveries in the workspace's database. Meta
 * redelivers until it gets a 200, so each event is stored once by its
 * own key; what a delivery does to the connection (a lost grant, a
 * restriction) is stored in the same transaction as the event.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mysqld_error.h>
#include <sodium.h>

#include "../db.h"
#include "../log.h"
#include "../webhook.h"
#include "connection.h"
#include "events.h"
#include "sql.h"
#include "trouble.h"
#include "webhooks.h"
#include "workspaces.h"

static const char *
wh_kind(enum webhook_kind k)
{
	switch (k) {
	case WEBHOOK_MESSAGE:
		return "message";
	case WEBHOOK_STATUS:
		return "status";
	case WEBHOOK_ERROR:
		return "error";
	case WEBHOOK_ECHO:
		return "echo";
	case WEBHOOK_STATE_SYNC:
		return "state_sync";
	case WEBHOOK_HISTORY:
		return "history";
	case WEBHOOK_TEMPLATE:
		return "template_status";
	case WEBHOOK_PHONE_QUALITY:
		return "phone_quality";
	case WEBHOOK_NOTICE: /* named after its field: wh_kind_of */
	case WEBHOOK_ACCOUNT_UPDATE:
		break;
	}
	return "account_update";
}

/* The feed's type of an event: a notice's is Meta's field. */
static const char *
wh_kind_of(const struct webhook_event *e)
{
	return e->kind == WEBHOOK_NOTICE ? e->type : wh_kind(e->kind);
}

/*
 * What makes an event "the same" across redeliveries: a message by its
 * id, an echo by its own message id (kept apart from inbound ones), a
 * status by message id and status (delivered and read are two events),
 * and events without an id by a hash of what they say: a contact by
 * its number, action, time and name, a history chunk by its number and
 * summary (phase, chunk, progress and counts).
 */
static void
wh_dedup_key(const struct webhook_event *e, char *out, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char          hex[sizeof(h) * 2 + 1], raw[1400];

	switch (e->kind) {
	case WEBHOOK_MESSAGE:
		snprintf(raw, sizeof(raw), "m:%s", e->id);
		break;
	case WEBHOOK_STATUS:
		snprintf(raw, sizeof(raw), "s:%s:%s", e->id, e->status);
		break;
	case WEBHOOK_ECHO:
		snprintf(raw, sizeof(raw), "x:%s", e->id);
		break;
	case WEBHOOK_TEMPLATE:
	case WEBHOOK_PHONE_QUALITY:
	case WEBHOOK_NOTICE:
		/* No id of Meta's: what it says, and when (entry.time). */
		snprintf(raw, sizeof(raw), "%s|%s|%s|%s|%s|%s|%s|%lld|%.400s",
		    wh_kind_of(e), e->waba_id, e->id, e->event, e->status,
		    e->from, e->type, (long long)e->timestamp, e->text);
		crypto_hash_sha256(h, (const unsigned char *)raw, strlen(raw));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(out, len, "%c:%s",
		    e->kind == WEBHOOK_TEMPLATE            ? 't'
		        : e->kind == WEBHOOK_PHONE_QUALITY ? 'q'
		                                           : 'n',
		    hex);
		return;
	case WEBHOOK_STATE_SYNC:
	case WEBHOOK_HISTORY:
		snprintf(raw, sizeof(raw), "%s|%s|%s|%s|%lld|%s",
		    wh_kind(e->kind), e->phone_number_id, e->status, e->from,
		    (long long)e->timestamp, e->text);
		crypto_hash_sha256(h, (const unsigned char *)raw, strlen(raw));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(out, len, "%c:%s",
		    e->kind == WEBHOOK_HISTORY ? 'h' : 'c', hex);
		return;
	default:
		/* As since v1: a new format would store old ones twice. */
		snprintf(raw, sizeof(raw), "%s|%s|%s|%s|%ld|%lld|%s",
		    wh_kind(e->kind), e->waba_id, e->phone_number_id, e->event,
		    e->code, (long long)e->timestamp, e->text);
		crypto_hash_sha256(h, (const unsigned char *)raw, strlen(raw));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(out, len, "%c:%s",
		    e->kind == WEBHOOK_ERROR ? 'e' : 'a', hex);
		return;
	}
	/* Ids are at most 191 bytes, but with a status they may not fit. */
	if (strlen(raw) < len) {
		snprintf(out, len, "%s", raw);
		return;
	}
	crypto_hash_sha256(h, (const unsigned char *)raw, strlen(raw));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(out, len, "%c#%s", raw[0], hex);
}

/*
 * Meta's Unix time as a DATETIME in UTC, whatever the session's zone;
 * past 9999-12-31 DATE_ADD overflows, which strict mode makes an error:
 * such a time is treated as absent.
 */
#define WH_UTC      "DATE_ADD('1970-01-01 00:00:00', INTERVAL ? SECOND)"
#define WH_TIME_MAX 253402300799LL

/*
 * What the connection row says about an account_update, read with the
 * row locked: whether the event is about the WABA in use (mine), about
 * the restriction or ban of its own kind recorded for its WABA (ban),
 * whether something it would overrule is newer than it (stale, with
 * that time in newer), and
 * whether the status is needs_reconnect only because of the recorded
 * restriction (held).
 */
struct wh_row {
	int  mine, ban, stale, held;
	char newer[32];
};

static enum store_rc
wh_row_get(MYSQL *my, const struct workspace *ws, const struct webhook_event *e,
    long long t, int standing, struct wh_row *r)
{
	struct sq     q;
	enum store_rc rc;

	memset(r, 0, sizeof(*r));
	/* What lifts it is of its kind: REINSTATE a ban, "none" a restriction. */
	rc = sq_one_on(&q, my,
	    SQ_ARGS(SQ_S(e->waba_id), SQ_S(e->waba_id),
	        SQ_S(strcmp(e->event, "ACCOUNT_RECONNECTED") == 0
	                ? "ACCOUNT_OFFBOARDED"
	                : e->event),
	        SQ_I(standing != 0), SQ_I(t), SQ_I(standing != 0)),
	    "SELECT token_ct IS NOT NULL AND "
	    "(waba_id IS NULL OR waba_id = '' OR waba_id = ?), "
	    "restriction_waba <=> ? AND restriction_event = ?, "
	    "IFNULL(IF(?, restriction_at, token_stored_at) > " WH_UTC ", 0), "
	    "IF(?, restriction_at, token_stored_at), "
	    "status = 'needs_reconnect' AND restriction IS NOT NULL AND "
	    "reason <=> restriction "
	    "FROM `%s`.connection WHERE id = 1 FOR UPDATE",
	    ws->db_name);
	if (rc == STORE_NOTFOUND)
		return STORE_OK; /* no connection row: nothing is mine */
	if (rc != STORE_OK)
		return rc;
	r->mine = sq_colint(&q, 0) != 0;
	r->ban = sq_colint(&q, 1) != 0;
	r->stale = sq_colint(&q, 2) != 0;
	snprintf(r->newer, sizeof(r->newer), "%s",
	    sq_col(&q, 3) ? sq_col(&q, 3) : "");
	r->held = sq_colint(&q, 4) != 0;
	sq_close(&q);
	return STORE_OK;
}

/* The connection's status ("" without a row), the row locked. */
static enum store_rc
wh_status_on(MYSQL *my, const struct workspace *ws, char out[32])
{
	struct sq     q;
	enum store_rc rc;

	*out = '\0';
	rc = sq_one_on(&q, my, NULL,
	    "SELECT status FROM `%s`.connection WHERE id = 1 FOR UPDATE",
	    ws->db_name);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	snprintf(out, 32, "%s", sq_col(&q, 0) ? sq_col(&q, 0) : "");
	sq_close(&q);
	return STORE_OK;
}

/*
 * An account_update that is new to the dedupe table: audit it, and
 * apply what it says unless something newer overrules it. New to the
 * table is not new: Meta redelivers for days what was not answered 200
 * (while the database was down, say), so the event's own time decides:
 * - a loss of our access (PARTNER_REMOVED, ...) older than the current
 *   token happened before the merchant connected again, which the new
 *   token supersedes;
 * - a restriction, ban or lifted ban older than the one recorded is
 *   overtaken by it; a reconnect changes nothing about those.
 * Such an event is audited as not applied. The time is entry.time, or
 * when it reached us if Meta sent none; equal times apply (a second is
 * all Meta gives).
 */
static enum store_rc
wh_account_update(MYSQL *my, const struct workspace *ws,
    const struct webhook_event *e, const char *loss)
{
	struct wh_row r;
	char          detail[1200];
	long long     t = e->timestamp > 0 && e->timestamp <= WH_TIME_MAX
	        ? e->timestamp
	        : (long long)time(NULL);
	long long     until = e->until <= WH_TIME_MAX ? e->until : 0;
	char          before[32], after[32];
	enum webhook_standing standing = webhook_event_standing(e);
	int                   apply;
	enum store_rc         rc;

	memset(&r, 0, sizeof(r));
	if ((loss != NULL || standing == WEBHOOK_LIFTED) &&
	    (rc = wh_row_get(my, ws, e, t, standing, &r)) != STORE_OK)
		return rc;
	apply = standing == WEBHOOK_LIFTED ? r.ban : loss != NULL && r.mine;
	if (apply && r.stale) {
		apply = 0;
		/* The note first: LEFT(, 500) may cut the text. */
		snprintf(detail, sizeof(detail),
		    "not applied, older than the "
		    "%s of %s UTC: %s",
		    standing != WEBHOOK_NEUTRAL ? "restriction update"
		                                : "connection",
		    r.newer, e->text);
	} else
		snprintf(detail, sizeof(detail), "%s", e->text);
	if ((rc = sq_do_on(my,
	         SQ_ARGS(SQ_S("meta"), SQ_S("account_update"), SQ_S(detail)),
	         "INSERT INTO `%s`.audit_log (at, actor, action, "
	         "detail) VALUES (UTC_TIMESTAMP(), ?, ?, LEFT(?, 500))",
	         ws->db_name)) != STORE_OK ||
	    !apply)
		return rc;
	if (standing == WEBHOOK_LIFTED)
		/*
		 * The ban is lifted: forget it. When it alone held the
		 * connection back, the connection stays needs_reconnect until
		 * a check passes (the monitor's next, which this makes due,
		 * or Verify): Meta's word that the account may be used again
		 * is not proof that our token and number work.
		 */
		return sq_do_on(my, SQ_ARGS(SQ_I(r.held), SQ_I(t)),
		    "UPDATE `%s`.connection SET "
		    "reason = IF(?, 'Meta lifted the restriction; the next "
		    "health check confirms the connection works', reason), "
		    "restriction = NULL, "
		    "restriction_event = NULL, restriction_waba = NULL, "
		    "restriction_until = NULL, restriction_at = " WH_UTC ", "
		    "updated_at = UTC_TIMESTAMP() WHERE id = 1",
		    ws->db_name);
	if ((rc = wh_status_on(my, ws, before)) != STORE_OK)
		return rc;
	if (standing == 1)
		/* Kept apart from reason, which Verify may rewrite. */
		rc = sq_do_on(my,
		    SQ_ARGS(SQ_S(loss), SQ_S(loss), SQ_S(e->event),
		        SQ_S(e->waba_id), SQ_I(t), SQ_I(until), SQ_I(until)),
		    "UPDATE `%s`.connection SET "
		    "status = 'needs_reconnect', reason = LEFT(?, 500), "
		    "restriction = LEFT(?, 500), restriction_event = ?, "
		    "restriction_waba = ?, restriction_at = " WH_UTC ", "
		    "restriction_until = IF(? = 0, NULL, " WH_UTC "), "
		    "updated_at = UTC_TIMESTAMP() WHERE id = 1",
		    ws->db_name);
	/*
	 * Only a stored token can be lost; not_connected stays as it is.
	 * The token may grant WABAs this workspace does not send from (they
	 * route here for account_update): losing one of those loses nothing.
	 */
	else
		rc = sq_do_on(my, SQ_ARGS(SQ_S(loss), SQ_S(e->waba_id)),
		    "UPDATE "
		    "`%s`.connection SET status = 'needs_reconnect', reason = "
		    "LEFT(?, 500), updated_at = UTC_TIMESTAMP() WHERE id = 1 AND "
		    "token_ct IS NOT NULL AND (waba_id IS NULL OR waba_id = '' OR "
		    "waba_id = ?)",
		    ws->db_name);
	/* The feed's connection event, once: only when the status changed. */
	if (rc != STORE_OK || (rc = wh_status_on(my, ws, after)) != STORE_OK ||
	    strcmp(before, after) == 0 || strcmp(after, "needs_reconnect") != 0)
		return rc;
	return store_ev_connection_on(my, ws, "needs_reconnect", loss);
}

/*
 * Counts the event just inserted on my into its hour (see migration 3).
 * The hour and time are read back from the row, not taken from the
 * clock again, so the counters agree with received_at even across an
 * hour boundary; in the same transaction, a rolled back delivery counts
 * nothing and a duplicate (never inserted) is never counted.
 */
static enum store_rc
wh_count(MYSQL *my, const struct workspace *ws)
{
	enum store_rc rc;
	unsigned int  err;

	/*
	 * A plain query: it binds nothing, and its text is each
	 * workspace's own, so over many workspaces the statement cache
	 * would prepare and close it around nearly every delivery.
	 */
	rc = sq_do_text_on(my, &err,
	    "INSERT INTO `%1$s`.webhook_hourly "
	    "(hour, events, last_at) SELECT DATE_FORMAT(received_at, "
	    "'%%Y-%%m-%%d %%H:00:00'), 1, received_at FROM "
	    "`%1$s`.webhook_events WHERE id = LAST_INSERT_ID() ON DUPLICATE "
	    "KEY UPDATE events = events + 1, last_at = GREATEST(last_at, "
	    "VALUES(last_at))",
	    ws->db_name);
	/*
	 * A database not yet at version 3 keeps storing events: the
	 * migration's backfill counts them from the events afterwards.
	 */
	if (rc == STORE_ERR && err == ER_NO_SUCH_TABLE) {
		log_err("webhook: workspace %s: no hourly counters; run "
		        "waba-connect-admin migrate",
		    ws->slug);
		rc = STORE_OK;
	} else if (rc != STORE_OK) /* names and numbers only: no value */
		log_err("webhook: workspace %s: hourly counter: %u %s",
		    ws->slug, err, mysql_error(my));
	return rc;
}

enum store_rc
store_wh_save(struct db *db, const struct workspace *ws,
    const struct webhook_event *const *ev, const char *const *loss, size_t n,
    int *stored)
{
	struct sq                   q;
	MYSQL                      *my;
	char                        key[192], msgid[192];
	const struct webhook_event *e;
	enum store_rc               rc;
	int                         fresh, toolong, account = 0;
	long long                   ts;
	size_t                      i;

	*stored = 0;
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	for (i = 0; i < n; i++) {
		e = ev[i];
		wh_dedup_key(e, key, sizeof(key));
		snprintf(msgid, sizeof(msgid), "%s", e->id);
		/* In UTC like received_at; out of range is absent. */
		ts = e->timestamp <= WH_TIME_MAX ? e->timestamp : 0;
		/*
		 * Not INSERT IGNORE: that would also turn a too-long value
		 * or any other error into a warning and a silently wrong
		 * row. A duplicate key fails only its own statement, not the
		 * transaction: that is how a redelivered event is told from
		 * a new one.
		 */
		rc = sq_rows_on(&q, my,
		    SQ_ARGS(SQ_S(key), SQ_S(wh_kind_of(e)),
		        SQ_S(*e->phone_number_id ? e->phone_number_id : NULL),
		        SQ_S(*msgid ? msgid : NULL),
		        SQ_S(*e->status     ? e->status
		                : *e->event ? e->event
		                            : NULL),
		        SQ_S(*e->from ? e->from : NULL),
		        SQ_S(*e->text ? e->text : NULL), SQ_I(ts), SQ_I(ts),
		        SQ_S(*e->waba_id ? e->waba_id : NULL), SQ_S(e->object),
		        SQ_S(e->metadata), SQ_S(e->contact)),
		    "INSERT INTO `%s`.webhook_events (dedup_key, kind, "
		    "phone_number_id, message_id, status, wa_from, body, "
		    "event_at, received_at, waba_id, object, metadata, "
		    "contact) VALUES (?, ?, ?, ?, ?, ?, ?, "
		    "IF(? = 0, NULL, " WH_UTC "), UTC_TIMESTAMP(), ?, ?, ?, ?)",
		    ws->db_name);
		fresh = rc == STORE_OK;
		toolong = rc == STORE_ERR && q.err == ER_DATA_TOO_LONG;
		if (fresh)
			sq_close(&q);
		if (rc == STORE_DUP)
			rc = STORE_OK;
		/*
		 * Only a database older than this program is too small for
		 * what the parser let through: keep the delivery's other
		 * events rather than fail it forever.
		 */
		if (toolong) {
			log_err(
			    "webhook: workspace %s: a %s event does not fit "
			    "its database; run waba-connect-admin migrate",
			    ws->slug, wh_kind_of(e));
			rc = STORE_OK;
		}
		if (rc != STORE_OK)
			goto fail;
		*stored += fresh;
		if (fresh && (rc = wh_count(my, ws)) != STORE_OK)
			goto fail;
		if (fresh && e->kind == WEBHOOK_ACCOUNT_UPDATE) {
			account = 1;
			if ((rc = wh_account_update(my, ws, e,
			         loss ? loss[i] : NULL)) != STORE_OK)
				goto fail;
		}
		if (fresh && (rc = store_tr_apply_on(my, ws, e)) != STORE_OK)
			goto fail;
	}
	/* Only an account update can change the connection row. */
	return account ? store_conn_commit(db, my, ws) : sq_commit(db, my);
fail:
	sq_rollback(db, my);
	*stored = 0;
	return rc;
}

int
store_wh_health_cols(char *buf, size_t len, const struct workspace *ws)
{
	int n;

	/*
	 * From the hourly counters, not the events: at most 24 rows and
	 * one index dive, however many events arrived. "The last 24 hours"
	 * is counted by whole UTC hours: the current hour and the 23
	 * before it, so an event is counted for 23 to 24 hours after it
	 * arrived and never once it is older than 24 hours.
	 */
	n = snprintf(buf, len,
	    "(SELECT last_at FROM `%s`.webhook_hourly "
	    "ORDER BY hour DESC LIMIT 1), (SELECT COALESCE(SUM(events), 0) "
	    "FROM `%s`.webhook_hourly WHERE hour >= DATE_FORMAT("
	    "UTC_TIMESTAMP(), '%%Y-%%m-%%d %%H:00:00') - INTERVAL 23 HOUR)",
	    ws->db_name, ws->db_name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

enum store_rc
store_wh_health(struct db *db, const struct workspace *ws, char last[32],
    long *count)
{
	struct sq     q;
	char          cols[400];
	enum store_rc rc;

	*last = '\0';
	*count = 0;
	if (store_wh_health_cols(cols, sizeof(cols), ws) == -1)
		return STORE_ERR;
	rc = sq_one(&q, db, &ws->srv, NULL, "SELECT %s", cols);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	snprintf(last, 32, "%s", sq_col(&q, 0) ? sq_col(&q, 0) : "");
	*count = (long)sq_colint(&q, 1);
	sq_close(&q);
	return STORE_OK;
}
