#include <stdio.h>
#include <string.h>

#include <mysqld_error.h>
#include <sodium.h>

#include "../db.h"
#include "../log.h"
#include "../webhook.h"
#include "sql.h"
#include "tenants.h"
#include "webhooks.h"

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
	default:
		return "account_update";
	}
}

/*
 * What makes an event "the same" across redeliveries: a message by its
 * id, a status by message id and status (delivered and read are two
 * events), and events without an id by a hash of what they say.
 */
static void
wh_dedup_key(const struct webhook_event *e, char *out, size_t len)
{
	unsigned char	 h[crypto_hash_sha256_BYTES];
	char		 hex[sizeof(h) * 2 + 1], raw[1400];

	switch (e->kind) {
	case WEBHOOK_MESSAGE:
		snprintf(raw, sizeof(raw), "m:%s", e->id);
		break;
	case WEBHOOK_STATUS:
		snprintf(raw, sizeof(raw), "s:%s:%s", e->id, e->status);
		break;
	default:
		snprintf(raw, sizeof(raw), "%s|%s|%s|%s|%ld|%lld|%s",
		    wh_kind(e->kind), e->waba_id, e->phone_number_id, e->event,
		    e->code, (long long)e->timestamp, e->text);
		crypto_hash_sha256(h, (const unsigned char *)raw, strlen(raw));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		snprintf(out, len, "%c:%s", e->kind == WEBHOOK_ERROR ? 'e' : 'a',
		    hex);
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

/* Runs one statement with string parameters (NULL binds NULL) on my. */
static enum store_rc
wh_exec_on(MYSQL *my, const char *sql, const char *const *args, size_t n,
    uint64_t *affected)
{
	struct sq	 q;
	enum store_rc	 rc;
	size_t		 i;

	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	for (i = 0; i < n; i++)
		sq_str(&q, args[i]);
	if ((rc = sq_run(&q)) == STORE_OK && affected != NULL)
		*affected = sq_affected(&q);
	sq_close(&q);
	return rc;
}

/* An account_update that is new: audit it, and apply a loss. */
static enum store_rc
wh_account_update(MYSQL *my, const struct workspace *ws,
    const struct webhook_event *e, const char *loss)
{
	char		 sql[512];
	const char	*audit[3] = { "meta", "account_update", e->text };
	const char	*mark[2] = { loss, e->waba_id };
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.audit_log (at, actor, "
	    "action, detail) VALUES (UTC_TIMESTAMP(), ?, ?, LEFT(?, 500))",
	    ws->db_name);
	if ((rc = wh_exec_on(my, sql, audit, 3, NULL)) != STORE_OK ||
	    loss == NULL)
		return rc;
	/*
	 * Only a stored token can be lost; not_connected stays as it is.
	 * The token may grant WABAs this workspace does not send from (they
	 * route here for account_update): losing one of those loses nothing.
	 */
	snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET status = "
	    "'needs_reconnect', reason = LEFT(?, 500), updated_at = "
	    "UTC_TIMESTAMP() WHERE id = 1 AND token_ct IS NOT NULL AND "
	    "(waba_id IS NULL OR waba_id = '' OR waba_id = ?)", ws->db_name);
	return wh_exec_on(my, sql, mark, 2, NULL);
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
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.webhook_hourly (hour, "
	    "events, last_at) SELECT DATE_FORMAT(received_at, "
	    "'%%Y-%%m-%%d %%H:00:00'), 1, received_at FROM `%s`.webhook_events "
	    "WHERE id = LAST_INSERT_ID() ON DUPLICATE KEY UPDATE events = "
	    "events + 1, last_at = GREATEST(last_at, VALUES(last_at))",
	    ws->db_name, ws->db_name);
	if ((rc = sq_open_on(&q, my, sql)) == STORE_OK) {
		rc = sq_run(&q);
		sq_close(&q);
	}
	/*
	 * A database not yet at version 3 keeps storing events: the
	 * migration's backfill counts them from the events afterwards.
	 */
	if (rc == STORE_ERR && q.err == ER_NO_SUCH_TABLE) {
		log_err("webhook: workspace %s: no hourly counters; run "
		    "waba-connect-admin migrate", ws->slug);
		rc = STORE_OK;
	}
	return rc;
}

enum store_rc
webhooks_store(struct db *db, const struct workspace *ws,
    const struct webhook_event *const *ev, const char *const *loss,
    size_t n, int *stored)
{
	struct sq	 q;
	MYSQL		*my;
	char		 sql[512], key[192], msgid[192];
	const struct webhook_event *e;
	enum store_rc	 rc;
	int		 fresh, toolong;
	size_t		 i;

	*stored = 0;
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	/*
	 * Not INSERT IGNORE: that would also turn a too-long value or any
	 * other error into a warning and a silently wrong row. A duplicate
	 * key fails only its own statement, not the transaction: that is
	 * how a redelivered event is told from a new one.
	 */
	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.webhook_events "
	    "(dedup_key, kind, phone_number_id, message_id, status, wa_from, "
	    "body, event_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
	    "IF(? = 0, NULL, FROM_UNIXTIME(?)), UTC_TIMESTAMP())",
	    ws->db_name);
	for (i = 0; i < n; i++) {
		e = ev[i];
		wh_dedup_key(e, key, sizeof(key));
		snprintf(msgid, sizeof(msgid), "%s", e->id);
		if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
			goto fail;
		sq_str(&q, key);
		sq_str(&q, wh_kind(e->kind));
		sq_str(&q, *e->phone_number_id ? e->phone_number_id : NULL);
		sq_str(&q, *msgid ? msgid : NULL);
		sq_str(&q, *e->status ? e->status : (*e->event ? e->event :
		    NULL));
		sq_str(&q, *e->from ? e->from : NULL);
		sq_str(&q, *e->text ? e->text : NULL);
		sq_int(&q, e->timestamp);
		sq_int(&q, e->timestamp);
		rc = sq_run(&q);
		fresh = rc == STORE_OK;
		toolong = rc == STORE_ERR && q.err == ER_DATA_TOO_LONG;
		sq_close(&q);
		if (rc == STORE_DUP)
			rc = STORE_OK;
		/*
		 * Only a database older than this program is too small for
		 * what the parser let through: keep the delivery's other
		 * events rather than fail it forever.
		 */
		if (toolong) {
			log_err("webhook: workspace %s: a %s event does not fit "
			    "its database; run waba-connect-admin migrate",
			    ws->slug, wh_kind(e->kind));
			rc = STORE_OK;
		}
		if (rc != STORE_OK)
			goto fail;
		*stored += fresh;
		if (fresh && (rc = wh_count(my, ws)) != STORE_OK)
			goto fail;
		if (fresh && e->kind == WEBHOOK_ACCOUNT_UPDATE &&
		    (rc = wh_account_update(my, ws, e, loss ? loss[i] : NULL)) !=
		    STORE_OK)
			goto fail;
	}
	return sq_commit(db, my);
fail:
	sq_rollback(db, my);
	*stored = 0;
	return rc;
}

enum store_rc
webhooks_health(struct db *db, const struct workspace *ws, char last[32],
    long *count)
{
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	*last = '\0';
	*count = 0;
	/*
	 * From the hourly counters, not the events: at most 24 rows and
	 * one index dive, however many events arrived. "The last 24 hours"
	 * is counted by whole UTC hours: the current hour and the 23
	 * before it, so an event is counted for 23 to 24 hours after it
	 * arrived and never once it is older than 24 hours.
	 */
	snprintf(sql, sizeof(sql), "SELECT (SELECT last_at FROM "
	    "`%s`.webhook_hourly ORDER BY hour DESC LIMIT 1), (SELECT "
	    "COALESCE(SUM(events), 0) FROM `%s`.webhook_hourly WHERE hour >= "
	    "DATE_FORMAT(UTC_TIMESTAMP(), '%%Y-%%m-%%d %%H:00:00') - "
	    "INTERVAL 23 HOUR)", ws->db_name, ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) == STORE_OK && sq_fetch(&q) == 1) {
		snprintf(last, 32, "%s", sq_col(&q, 0) ? sq_col(&q, 0) : "");
		*count = (long)sq_colint(&q, 1);
	}
	sq_close(&q);
	return rc;
}
