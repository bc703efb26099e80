/*
 * store_sess_*: sessions and failed sign-ins in the control database,
 * where any worker on any host finds them. Expiry is decided by the
 * database's clock in the query, so workers never disagree about it.
 */
#include <stdio.h>
#include <string.h>

#include "../config.h"
#include "../db.h"
#include "sessions.h"
#include "sql.h"
#include "workspaces.h"

enum store_rc
store_sess_create(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
    uint64_t user, const char *csrf)
{
	const struct config *c = db_config(db);

	return sq_do(db, NULL,
	    SQ_ARGS(SQ_B(hash, SESSION_HASH_BYTES), SQ_I(user), SQ_S(csrf),
	        SQ_I(c->session_idle_minutes), SQ_I(c->session_max_hours)),
	    "INSERT INTO `%s`.sessions (id_hash, "
	    "user_id, csrf_token, created_at, last_seen_at, expires_at) "
	    "VALUES (?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), "
	    "LEAST(UTC_TIMESTAMP() + INTERVAL ? MINUTE, "
	    "UTC_TIMESTAMP() + INTERVAL ? HOUR))",
	    sq_ctl(db));
}

enum store_rc
store_sess_gate(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
    const char *slug, struct session_row *s, struct workspace *ws, int *member)
{
	const struct config *c = db_config(db);
	struct sq            q;
	char                 sql[1024];
	enum store_rc        rc;
	int                  stale = 0;

	if (member != NULL)
		*member = 0;
	/*
	 * One statement, the request's first round trip (sq_open_read: it
	 * is a read, so it is also the connection's check). The workspace
	 * comes only through a membership of this user: a workspace the
	 * user does not belong to reads as no workspace, never as its row.
	 * expires_at already holds both limits as they were when the row
	 * was last touched; checking them against the configuration too
	 * makes a lowered session_idle_minutes or session_max_hours end
	 * existing sessions at once rather than after their old expiry.
	 * Columns 0-6 are STORE_WS_COLS of w, for store_ws_from_row.
	 */
	snprintf(sql, sizeof(sql),
	    "SELECT w.id, w.slug, w.name, w.db_name, "
	    "w.db_host, w.db_port, w.db_socket, s.user_id, u.email, "
	    "s.csrf_token, s.last_seen_at < UTC_TIMESTAMP() - INTERVAL 1 "
	    "MINUTE FROM `%s`.sessions s JOIN `%s`.users u ON u.id = "
	    "s.user_id LEFT JOIN (`%s`.memberships m JOIN `%s`.workspaces w "
	    "ON w.id = m.workspace_id AND w.slug = ?) ON m.user_id = "
	    "s.user_id WHERE s.id_hash = ? AND s.expires_at > "
	    "UTC_TIMESTAMP() AND s.last_seen_at > UTC_TIMESTAMP() - "
	    "INTERVAL ? MINUTE AND s.created_at > UTC_TIMESTAMP() - "
	    "INTERVAL ? HOUR",
	    sq_ctl(db), sq_ctl(db), sq_ctl(db), sq_ctl(db));
	if ((rc = sq_open_read(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	/* sq_open_read has no row helper: its list bound by sq_bind. */
	sq_bind(&q,
	    SQ_ARGS(SQ_S(slug), /* NULL: = NULL, no workspace */
	        SQ_B(hash, SESSION_HASH_BYTES), SQ_I(c->session_idle_minutes),
	        SQ_I(c->session_max_hours)));
	if ((rc = sq_run(&q)) != STORE_OK)
		goto out;
	switch (sq_fetch(&q)) {
	case 1:
		break;
	case 0:
		rc = STORE_NOTFOUND;
		goto out;
	default:
		rc = STORE_ERR;
		goto out;
	}
	s->user_id = (uint64_t)sq_colint(&q, 7);
	snprintf(s->email, sizeof(s->email), "%s", sq_col(&q, 8));
	snprintf(s->csrf, sizeof(s->csrf), "%s", sq_col(&q, 9));
	stale = sq_colint(&q, 10) != 0;
	if (ws != NULL && member != NULL && sq_col(&q, 0) != NULL) {
		if ((rc = store_ws_from_row(&q, ws)) != STORE_OK)
			goto out;
		*member = 1;
	}
out:
	sq_close(&q);
	if (rc != STORE_OK || !stale)
		return rc;
	/*
	 * Slide the idle expiry, never past the absolute one: a write, so
	 * a statement of its own, but at most once a minute per session
	 * (the stale column), so one page view a minute pays this one
	 * more round trip and the others none. Folding it into the read
	 * would take a multi-statement text query (SQL only goes through
	 * prepared statements here) or a stored procedure; a minute of
	 * granularity on a limit counted in minutes costs nothing.
	 */
	return sq_do(db, NULL,
	    SQ_ARGS(SQ_I(c->session_max_hours), SQ_I(c->session_idle_minutes),
	        SQ_B(hash, SESSION_HASH_BYTES)),
	    "UPDATE `%s`.sessions SET last_seen_at = UTC_TIMESTAMP(), "
	    "expires_at = LEAST(created_at + INTERVAL ? HOUR, "
	    "UTC_TIMESTAMP() + INTERVAL ? MINUTE) WHERE id_hash = ?",
	    sq_ctl(db));
}

enum store_rc
store_sess_delete(struct db *db, const unsigned char hash[SESSION_HASH_BYTES])
{
	return sq_do(db, NULL, SQ_ARGS(SQ_B(hash, SESSION_HASH_BYTES)),
	    "DELETE FROM `%s`.sessions WHERE id_hash = ? OR "
	    "expires_at < UTC_TIMESTAMP()",
	    sq_ctl(db));
}

enum store_rc
store_sess_attempt(struct db *db, const char *email, const char *addr,
    const unsigned char *device, int minutes, uint64_t *id,
    struct store_sess_counts *n)
{
	struct sq     q;
	struct sq_arg dev;
	enum store_rc rc;

	*id = 0;
	memset(n, 0, sizeof(*n));
	dev = device ? SQ_B(device, SESSION_DEVICE_BYTES) : SQ_NULL;
	if ((rc = sq_rows(&q, db, NULL, SQ_ARGS(SQ_S(email), SQ_S(addr), dev),
	         "INSERT INTO `%s`.login_failures (email, addr, device, at) "
	         "VALUES (?, ?, ?, UTC_TIMESTAMP())",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	*id = sq_insert_id(&q);
	sq_close(&q);

	/*
	 * A trusted device's failures count only against that device, so
	 * that nobody else's guessing can lock its owner out; everyone
	 * else's count per email and per address. Without a device,
	 * device = NULL matches nothing: 0.
	 */
	if ((rc = sq_one(&q, db, NULL,
	         SQ_ARGS(SQ_S(email), SQ_I(minutes), SQ_S(addr), SQ_I(minutes),
	             dev, SQ_I(minutes)),
	         "SELECT "
	         "(SELECT COUNT(*) FROM `%1$s`.login_failures WHERE email = ? AND "
	         "device IS NULL AND at > UTC_TIMESTAMP() - INTERVAL ? MINUTE), "
	         "(SELECT COUNT(*) FROM `%1$s`.login_failures WHERE addr = ? AND "
	         "device IS NULL AND at > UTC_TIMESTAMP() - INTERVAL ? MINUTE), "
	         "(SELECT COUNT(*) FROM `%1$s`.login_failures WHERE device = ? AND "
	         "at > UTC_TIMESTAMP() - INTERVAL ? MINUTE)",
	         sq_ctl(db))) != STORE_OK)
		/* A SELECT without FROM has its one row: none is a fault. */
		return rc == STORE_NOTFOUND ? STORE_ERR : rc;
	n->by_email = (int)sq_colint(&q, 0);
	n->by_addr = (int)sq_colint(&q, 1);
	n->by_device = (int)sq_colint(&q, 2);
	sq_close(&q);
	/*
	 * Old attempts only cost space: prune as we go. The count is what
	 * matters; a failed prune must not fail the sign-in.
	 */
	(void)sq_do(db, NULL, NULL,
	    "DELETE FROM `%s`.login_failures WHERE "
	    "at < UTC_TIMESTAMP() - INTERVAL 1 DAY LIMIT 100",
	    sq_ctl(db));
	return STORE_OK;
}

enum store_rc
store_sess_attempt_forget(struct db *db, uint64_t id)
{
	return sq_do(db, NULL, SQ_ARGS(SQ_I(id)),
	    "DELETE FROM "
	    "`%s`.login_failures WHERE id = ?",
	    sq_ctl(db));
}
