/*
 * Pruning by batches: each DELETE removes at most RETENTION_BATCH rows,
 * oldest first along an index, as its own autocommitted transaction,
 * so it holds its locks for milliseconds and a delivery inserting the
 * current hour's row never waits behind it. The loop ends on the first
 * batch that comes back short.
 */
#include <stdio.h>
#include <string.h>

#include "../db.h"
#include "retention.h"
#include "sql.h"
#include "workspaces.h"

/* The cut, "YYYY-MM-DD HH:00:00", from the database's clock (UTC). */
static enum store_rc
ret_cutoff(struct db *db, const struct workspace *ws, int days, char out[32])
{
	struct sq	 q;
	enum store_rc	 rc;

	*out = '\0';
	if ((rc = sq_open(&q, db, &ws->srv, "SELECT DATE_FORMAT("
	    "UTC_TIMESTAMP() - INTERVAL ? DAY, '%Y-%m-%d %H:00:00')")) !=
	    STORE_OK)
		return rc;
	sq_int(&q, days);
	if ((rc = sq_run(&q)) == STORE_OK) {
		if (sq_fetch(&q) == 1 && sq_col(&q, 0) != NULL)
			snprintf(out, 32, "%s", sq_col(&q, 0));
		else
			rc = STORE_ERR;
	}
	sq_close(&q);
	return rc;
}

static enum store_rc
ret_batches(struct db *db, const struct workspace *ws, const char *sql,
    const char *table, const char *cutoff, store_wh_prune_report fn, void *arg,
    uint64_t *deleted)
{
	struct sq	 q;
	enum store_rc	 rc;
	uint64_t	 n;

	do {
		if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
			return rc;
		sq_str(&q, cutoff);
		sq_int(&q, RETENTION_BATCH);
		rc = sq_run(&q);
		n = rc == STORE_OK ? sq_affected(&q) : 0;
		sq_close(&q);
		if (rc != STORE_OK)
			return rc;
		*deleted += n;
		if (fn && n > 0)
			fn(table, *deleted, arg);
	} while (n == RETENTION_BATCH);
	return STORE_OK;
}

enum store_rc
store_wh_prune(struct db *db, const struct workspace *ws, int days,
    store_wh_prune_report fn, void *arg, uint64_t *events, uint64_t *hours)
{
	char		 cutoff[32], sql[256];
	enum store_rc	 rc;

	*events = *hours = 0;
	if ((rc = ret_cutoff(db, ws, days, cutoff)) != STORE_OK)
		return rc;
	/*
	 * Events first: interrupted in between, what is left is counter
	 * rows for hours that have no events, all older than any view
	 * reads (retention is at least 7 days); the next run removes them.
	 * (received_at, id) is the received_at index's own order.
	 */
	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.webhook_events WHERE "
	    "received_at < ? ORDER BY received_at, id LIMIT ?", ws->db_name);
	if ((rc = ret_batches(db, ws, sql, "webhook_events", cutoff, fn, arg,
	    events)) != STORE_OK)
		return rc;
	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.webhook_hourly WHERE "
	    "hour < ? ORDER BY hour LIMIT ?", ws->db_name);
	return ret_batches(db, ws, sql, "webhook_hourly", cutoff, fn, arg,
	    hours);
}
