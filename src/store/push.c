/*
 * store_push_*: push_state rows in the control database, and the two
 * reads of a workspace's events the pusher needs besides the feed's own
 * (store/events.c): the newest id, and how many wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db.h"
#include "push.h"
#include "sql.h"
#include "workspaces.h"

enum store_rc
store_push_claim(struct db *db, uint64_t ws, const char *owner, long lease_s,
    int *claimed, uint64_t *cursor)
{
	struct sq     q;
	enum store_rc rc;

	*claimed = 0;
	*cursor = 0;
	if ((rc = sq_do(db, NULL, SQ_ARGS(SQ_I((long long)ws)),
	         "INSERT IGNORE INTO `%s`.push_state (workspace_id) VALUES (?)",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	/*
	 * The one statement that decides (InnoDB locks the row): ours
	 * already, or free, and no backoff running. Matched rows count
	 * (CLIENT_FOUND_ROWS), so a renewal that changes nothing is 1.
	 */
	if ((rc = sq_rows(&q, db, NULL,
	         SQ_ARGS(SQ_S(owner), SQ_I(lease_s * 1000), SQ_I((long long)ws),
	             SQ_S(owner)),
	         "UPDATE `%s`.push_state SET lease_owner = ?, lease_until = "
	         "DATE_ADD(UTC_TIMESTAMP(3), INTERVAL ? * 1000 MICROSECOND) "
	         "WHERE workspace_id = ? AND (lease_owner = ? OR lease_until "
	         "IS NULL OR lease_until < UTC_TIMESTAMP(3)) AND (retry_at IS "
	         "NULL OR retry_at <= UTC_TIMESTAMP(3))",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	*claimed = sq_affected(&q) == 1;
	sq_close(&q);
	if (!*claimed)
		return STORE_OK;
	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_I((long long)ws)),
	         "SELECT last_event_id FROM `%s`.push_state WHERE "
	         "workspace_id = ?",
	         sq_ctl(db))) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_ERR : rc;
	*cursor = (uint64_t)strtoull(sq_col(&q, 0), NULL, 10);
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_push_done(struct db *db, uint64_t ws, const char *owner, uint64_t last_id)
{
	return sq_do(db, NULL,
	    SQ_ARGS(SQ_I((long long)last_id), SQ_I((long long)ws), SQ_S(owner)),
	    "UPDATE `%s`.push_state SET last_event_id = GREATEST(last_event_id, "
	    "?), failures = 0, retry_at = NULL, pushed_at = UTC_TIMESTAMP() "
	    "WHERE workspace_id = ? AND lease_owner = ?",
	    sq_ctl(db));
}

enum store_rc
store_push_failed(struct db *db, uint64_t ws, const char *owner,
    const char *why, long max_backoff_s)
{
	/* retry_at first: it reads failures before the +1 (sql_mode, db.c). */
	return sq_do(db, NULL,
	    SQ_ARGS(SQ_I(max_backoff_s), SQ_S(why), SQ_I((long long)ws),
	        SQ_S(owner)),
	    "UPDATE `%s`.push_state SET retry_at = DATE_ADD(UTC_TIMESTAMP(3), "
	    "INTERVAL LEAST(?, POW(2, LEAST(failures, 20))) SECOND), "
	    "failures = failures + 1, last_error = LEFT(?, 255), "
	    "last_error_at = UTC_TIMESTAMP(), lease_until = NULL "
	    "WHERE workspace_id = ? AND lease_owner = ?",
	    sq_ctl(db));
}

enum store_rc
store_push_get(struct db *db, uint64_t ws, struct push_row *r)
{
	struct sq     q;
	enum store_rc rc;

	memset(r, 0, sizeof(*r));
	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_I((long long)ws)),
	         "SELECT last_event_id, failures, IFNULL(GREATEST(0, "
	         "TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), retry_at) DIV "
	         "1000), 0), last_error, DATE_FORMAT(last_error_at, "
	         "'%%Y-%%m-%%dT%%H:%%i:%%sZ') FROM `%s`.push_state WHERE "
	         "workspace_id = ?",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	r->last_event_id = (uint64_t)strtoull(sq_col(&q, 0), NULL, 10);
	r->failures = (unsigned)sq_colint(&q, 1);
	r->retry_in_ms = sq_colint(&q, 2);
	if (sq_col(&q, 3) != NULL)
		snprintf(r->last_error, sizeof(r->last_error), "%s",
		    sq_col(&q, 3));
	if (sq_col(&q, 4) != NULL)
		snprintf(r->last_error_at, sizeof(r->last_error_at), "%s",
		    sq_col(&q, 4));
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_push_pending(struct db *db, const struct workspace *w, uint64_t after,
    long long cap, long long *n)
{
	struct sq     q;
	enum store_rc rc;

	*n = 0;
	/* Counted along the primary key, never past cap rows. */
	if ((rc = sq_one(&q, db, &w->srv,
	         SQ_ARGS(SQ_I((long long)after), SQ_I(cap)),
	         "SELECT COUNT(*) FROM (SELECT 1 FROM `%s`.webhook_events "
	         "WHERE id > ? ORDER BY id LIMIT ?) AS p",
	         w->db_name)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	*n = sq_colint(&q, 0);
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_push_last_event(struct db *db, const struct workspace *w, uint64_t *id)
{
	struct sq     q;
	enum store_rc rc;

	*id = 0;
	if ((rc = sq_one(&q, db, &w->srv, NULL,
	         "SELECT IFNULL(MAX(id), 0) FROM `%s`.webhook_events",
	         w->db_name)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	*id = (uint64_t)strtoull(sq_col(&q, 0), NULL, 10);
	sq_close(&q);
	return STORE_OK;
}
