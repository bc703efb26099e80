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
	struct sq     q;
	enum store_rc rc;

	*out = '\0';
	rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_I(days)),
	    "SELECT "
	    "DATE_FORMAT(UTC_TIMESTAMP() - INTERVAL ? DAY, "
	    "'%%Y-%%m-%%d %%H:00:00')");
	if (rc == STORE_NOTFOUND)
		return STORE_ERR;
	if (rc != STORE_OK)
		return rc;
	if (sq_col(&q, 0) != NULL)
		snprintf(out, 32, "%s", sq_col(&q, 0));
	else
		rc = STORE_ERR;
	sq_close(&q);
	return rc;
}

/* Deletes table's rows whose col is before the cut, in order's order. */
static enum store_rc
ret_batches(struct db *db, const struct workspace *ws, const char *table,
    const char *col, const char *order, const char *cutoff,
    store_wh_prune_report fn, void *arg, uint64_t *deleted)
{
	struct sq     q;
	enum store_rc rc;
	uint64_t      n;

	do {
		if ((rc = sq_rows(&q, db, &ws->srv,
		         SQ_ARGS(SQ_S(cutoff), SQ_I(RETENTION_BATCH)),
		         "DELETE FROM `%s`.%s WHERE %s < ? "
		         "ORDER BY %s LIMIT ?",
		         ws->db_name, table, col, order)) != STORE_OK)
			return rc;
		n = sq_affected(&q);
		sq_close(&q);
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
	char          cutoff[32];
	enum store_rc rc;

	*events = *hours = 0;
	if ((rc = ret_cutoff(db, ws, days, cutoff)) != STORE_OK)
		return rc;
	/*
	 * Events first: interrupted in between, what is left is counter
	 * rows for hours that have no events, all older than any view
	 * reads (retention is at least 7 days); the next run removes them.
	 * (received_at, id) is the received_at index's own order.
	 */
	if ((rc = ret_batches(db, ws, "webhook_events", "received_at",
	         "received_at, id", cutoff, fn, arg, events)) != STORE_OK)
		return rc;
	return ret_batches(db, ws, "webhook_hourly", "hour", "hour", cutoff, fn,
	    arg, hours);
}
