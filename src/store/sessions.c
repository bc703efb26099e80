/*
 * store_sess_*: sessions and failed sign-ins in the control database,
 * where any worker on any host finds them. Expiry is decided by the
 * database's clock in the query, so workers never disagree about it.
 */
#include <stdio.h>
#include <string.h>

#include "../config.h"
#include "../db.h"
#include "../log.h"
#include "sessions.h"
#include "sql.h"
#include "workspaces.h"

enum store_rc
store_sess_create(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
    uint64_t user, const char *csrf)
{
	const struct config *c = db_config(db);
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.sessions (id_hash, "
	    "user_id, csrf_token, created_at, last_seen_at, expires_at) "
	    "VALUES (?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), "
	    "LEAST(UTC_TIMESTAMP() + INTERVAL ? MINUTE, "
	    "UTC_TIMESTAMP() + INTERVAL ? HOUR))", sq_ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_bin(&q, hash, SESSION_HASH_BYTES);
	sq_int(&q, (long long)user);
	sq_str(&q, csrf);
	sq_int(&q, c->session_idle_minutes);
	sq_int(&q, c->session_max_hours);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

/*
 * The gate's row as a workspace: columns 0-6 in workspaces.c's order
 * (id, slug, name, db_name, db_host, db_port, db_socket).
 */
static enum store_rc
sess_ws_from_row(const struct sq *q, struct workspace *ws)
{
	const char	*dbname = sq_col(q, 3) ? sq_col(q, 3) : "";

	memset(ws, 0, sizeof(*ws));
	ws->id = (uint64_t)sq_colint(q, 0);
	snprintf(ws->slug, sizeof(ws->slug), "%s", sq_col(q, 1));
	snprintf(ws->name, sizeof(ws->name), "%s", sq_col(q, 2));
	snprintf(ws->db_name, sizeof(ws->db_name), "%s", dbname);
	snprintf(ws->srv.host, sizeof(ws->srv.host), "%s", sq_col(q, 4));
	ws->srv.port = (unsigned int)sq_colint(q, 5);
	snprintf(ws->srv.socket, sizeof(ws->srv.socket), "%s", sq_col(q, 6));
	/* The name is spliced into SQL: it must be one we generate. */
	if (*dbname == '\0' || strlen(dbname) >= sizeof(ws->db_name) ||
	    strspn(dbname, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
	    strlen(dbname)) {
		log_err("workspace %llu: bad database name",
		    (unsigned long long)ws->id);
		return STORE_ERR;
	}
	return STORE_OK;
}

enum store_rc
store_sess_gate(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
    const char *slug, struct session_row *s, struct workspace *ws,
    int *member)
{
	const struct config *c = db_config(db);
	struct sq	 q;
	char		 sql[1024];
	enum store_rc	 rc;
	int		 stale = 0;

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
	 */
	snprintf(sql, sizeof(sql), "SELECT w.id, w.slug, w.name, w.db_name, "
	    "w.db_host, w.db_port, w.db_socket, s.user_id, u.email, "
	    "s.csrf_token, s.last_seen_at < UTC_TIMESTAMP() - INTERVAL 1 "
	    "MINUTE FROM `%s`.sessions s JOIN `%s`.users u ON u.id = "
	    "s.user_id LEFT JOIN (`%s`.memberships m JOIN `%s`.workspaces w "
	    "ON w.id = m.workspace_id AND w.slug = ?) ON m.user_id = "
	    "s.user_id WHERE s.id_hash = ? AND s.expires_at > "
	    "UTC_TIMESTAMP() AND s.last_seen_at > UTC_TIMESTAMP() - "
	    "INTERVAL ? MINUTE AND s.created_at > UTC_TIMESTAMP() - "
	    "INTERVAL ? HOUR", sq_ctl(db), sq_ctl(db), sq_ctl(db), sq_ctl(db));
	if ((rc = sq_open_read(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, slug);	/* NULL: = NULL matches no workspace */
	sq_bin(&q, hash, SESSION_HASH_BYTES);
	sq_int(&q, c->session_idle_minutes);
	sq_int(&q, c->session_max_hours);
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
		if ((rc = sess_ws_from_row(&q, ws)) != STORE_OK)
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
	snprintf(sql, sizeof(sql), "UPDATE `%s`.sessions SET last_seen_at = "
	    "UTC_TIMESTAMP(), expires_at = LEAST(created_at + INTERVAL ? "
	    "HOUR, UTC_TIMESTAMP() + INTERVAL ? MINUTE) WHERE id_hash = ?",
	    sq_ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_int(&q, c->session_max_hours);
	sq_int(&q, c->session_idle_minutes);
	sq_bin(&q, hash, SESSION_HASH_BYTES);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

enum store_rc
store_sess_get(struct db *db, const unsigned char hash[SESSION_HASH_BYTES],
    struct session_row *s)
{
	return store_sess_gate(db, hash, NULL, s, NULL, NULL);
}

enum store_rc
store_sess_delete(struct db *db, const unsigned char hash[SESSION_HASH_BYTES])
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.sessions WHERE "
	    "id_hash = ? OR expires_at < UTC_TIMESTAMP()", sq_ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_bin(&q, hash, SESSION_HASH_BYTES);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

enum store_rc
store_sess_attempt(struct db *db, const char *email, const char *addr,
    const unsigned char *device, int minutes, uint64_t *id,
    struct store_sess_counts *n)
{
	struct sq	 q;
	char		 sql[768];
	enum store_rc	 rc;

	*id = 0;
	memset(n, 0, sizeof(*n));
	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.login_failures (email, "
	    "addr, device, at) VALUES (?, ?, ?, UTC_TIMESTAMP())", sq_ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, email);
	sq_str(&q, addr);
	if (device)
		sq_bin(&q, device, SESSION_DEVICE_BYTES);
	else
		sq_null(&q);
	if ((rc = sq_run(&q)) == STORE_OK)
		*id = sq_insert_id(&q);
	sq_close(&q);
	if (rc != STORE_OK)
		return rc;

	/*
	 * A trusted device's failures count only against that device, so
	 * that nobody else's guessing can lock its owner out; everyone
	 * else's count per email and per address.
	 */
	snprintf(sql, sizeof(sql), "SELECT "
	    "(SELECT COUNT(*) FROM `%s`.login_failures WHERE email = ? AND "
	    "device IS NULL AND at > UTC_TIMESTAMP() - INTERVAL ? MINUTE), "
	    "(SELECT COUNT(*) FROM `%s`.login_failures WHERE addr = ? AND "
	    "device IS NULL AND at > UTC_TIMESTAMP() - INTERVAL ? MINUTE), "
	    "(SELECT COUNT(*) FROM `%s`.login_failures WHERE device = ? AND "
	    "at > UTC_TIMESTAMP() - INTERVAL ? MINUTE)", sq_ctl(db), sq_ctl(db),
	    sq_ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, email);
	sq_int(&q, minutes);
	sq_str(&q, addr);
	sq_int(&q, minutes);
	if (device)
		sq_bin(&q, device, SESSION_DEVICE_BYTES);
	else
		sq_null(&q);	/* = NULL matches nothing: 0 */
	sq_int(&q, minutes);
	if ((rc = sq_run(&q)) == STORE_OK) {
		if (sq_fetch(&q) == 1) {
			n->by_email = (int)sq_colint(&q, 0);
			n->by_addr = (int)sq_colint(&q, 1);
			n->by_device = (int)sq_colint(&q, 2);
		} else
			rc = STORE_ERR;
	}
	sq_close(&q);
	if (rc != STORE_OK)
		return rc;
	/*
	 * Old attempts only cost space: prune as we go. The count is what
	 * matters; a failed prune must not fail the sign-in.
	 */
	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.login_failures WHERE "
	    "at < UTC_TIMESTAMP() - INTERVAL 1 DAY LIMIT 100", sq_ctl(db));
	(void)sq_exec(db, NULL, sql);
	return STORE_OK;
}

enum store_rc
store_sess_attempt_forget(struct db *db, uint64_t id)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.login_failures WHERE "
	    "id = ?", sq_ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_int(&q, (long long)id);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}
