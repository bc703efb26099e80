/*
 * routes: the webhook_routes and webhook_grants tables (the rule is in
 * routes.h). Every change is one transaction that rewrites a
 * workspace's rows, so a delivery never sees half of a reconnect.
 */
#include <stdio.h>
#include <string.h>

#include "../db.h"
#include "routes.h"
#include "sql.h"
#include "workspaces.h"

/*
 * One route inside the open transaction on my. An id routed to another
 * workspace moves here only when take is set.
 */
static enum store_rc
route_put(struct db *db, MYSQL *my, const char *kind, const char *id,
    uint64_t workspace, int take)
{
	return sq_do_on(my,
	    SQ_ARGS(SQ_S(kind), SQ_S(id), SQ_I(workspace), SQ_I(take)),
	    "INSERT INTO `%s`.webhook_routes (kind, external_id, "
	    "workspace_id) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE "
	    "workspace_id = IF(?, VALUES(workspace_id), workspace_id)",
	    sq_ctl(db));
}

/* Deletes workspace's rows of table (webhook_routes or webhook_grants). */
static enum store_rc
route_forget(struct db *db, MYSQL *my, const char *table, uint64_t workspace)
{
	return sq_do_on(my, SQ_ARGS(SQ_I(workspace)),
	    "DELETE FROM `%s`.%s "
	    "WHERE workspace_id = ?",
	    sq_ctl(db), table);
}

/* Records that workspace's token grants waba_id. */
static enum store_rc
route_grant(struct db *db, MYSQL *my, const char *waba_id, uint64_t workspace)
{
	return sq_do_on(my, SQ_ARGS(SQ_S(waba_id), SQ_I(workspace)),
	    "INSERT IGNORE INTO `%s`.webhook_grants (waba_id, workspace_id) "
	    "VALUES (?, ?)",
	    sq_ctl(db));
}

/*
 * A WABA that some token still grants but nobody routes (its chooser let
 * it go just now) routes to one of the workspaces granted it, the one
 * with the lowest id, so that PARTNER_ADDED and account_update keep
 * finding a workspace. Only WABAs without a route are touched.
 */
static enum store_rc
route_regrant(struct db *db, MYSQL *my)
{
	return sq_do_on(my, NULL,
	    "INSERT IGNORE INTO `%1$s`.webhook_routes "
	    "(kind, external_id, workspace_id) SELECT 'waba', g.waba_id, "
	    "MIN(g.workspace_id) FROM `%1$s`.webhook_grants g LEFT JOIN "
	    "`%1$s`.webhook_routes r ON r.kind = 'waba' AND "
	    "r.external_id = g.waba_id WHERE r.external_id IS NULL "
	    "GROUP BY g.waba_id",
	    sq_ctl(db));
}

/*
 * Routes each number of the comma-separated list to workspace, inside
 * the transaction on my; STORE_DUP when one routes elsewhere already.
 */
static enum store_rc
route_phones(struct db *db, MYSQL *my, const char *phones, uint64_t workspace)
{
	struct sq     q;
	char          id[33];
	const char   *p;
	size_t        n;
	enum store_rc rc;

	for (p = phones; p != NULL && *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n == 0)
			continue;
		if (n >= sizeof(id))
			return STORE_ERR;
		memcpy(id, p, n);
		id[n] = '\0';
		if ((rc = route_put(db, my, "phone", id, workspace, 0)) !=
		    STORE_OK)
			return rc;
		if ((rc = sq_one_on(&q, my, SQ_ARGS(SQ_S(id)),
		         "SELECT "
		         "workspace_id FROM `%s`.webhook_routes WHERE kind = "
		         "'phone' AND external_id = ?",
		         sq_ctl(db))) != STORE_OK)
			return rc == STORE_NOTFOUND ? STORE_ERR : rc;
		rc = (uint64_t)sq_colint(&q, 0) == workspace ? STORE_OK
		                                             : STORE_DUP;
		sq_close(&q);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

enum store_rc
store_route_replace(struct db *db, uint64_t workspace, const char *granted,
    const char *chosen, const char *phones)
{
	MYSQL        *my;
	char          id[33];
	const char   *p;
	size_t        n;
	enum store_rc rc;

	if ((rc = sq_begin(db, NULL, &my)) != STORE_OK)
		return rc;
	if ((rc = route_forget(db, my, "webhook_routes", workspace)) !=
	        STORE_OK ||
	    (rc = route_forget(db, my, "webhook_grants", workspace)) !=
	        STORE_OK)
		goto fail;
	/* The chosen WABA first: it is taken, the others only granted. */
	if (chosen != NULL && *chosen != '\0' &&
	    (rc = route_put(db, my, "waba", chosen, workspace, 1)) != STORE_OK)
		goto fail;
	for (p = granted; p != NULL && *p != '\0'; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n == 0)
			continue;
		/* Ids are what debug_token gave, checked to be digits. */
		if (n >= sizeof(id)) {
			rc = STORE_ERR;
			goto fail;
		}
		memcpy(id, p, n);
		id[n] = '\0';
		if ((rc = route_grant(db, my, id, workspace)) != STORE_OK)
			goto fail;
		if (chosen != NULL && strcmp(id, chosen) == 0)
			continue;
		if ((rc = route_put(db, my, "waba", id, workspace, 0)) !=
		    STORE_OK)
			goto fail;
	}
	if ((rc = route_phones(db, my, phones, workspace)) != STORE_OK)
		goto fail;
	if ((rc = route_regrant(db, my)) != STORE_OK)
		goto fail;
	return sq_commit(db, my);
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_route_find(struct db *db, const char *kind, const char *external_id,
    uint64_t *workspace)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_S(kind), SQ_S(external_id)),
	         "SELECT workspace_id FROM `%s`.webhook_routes WHERE kind = ? AND "
	         "external_id = ?",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	*workspace = (uint64_t)sq_colint(&q, 0);
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_route_find_ws(struct db *db, const char *kind, const char *external_id,
    uint64_t *workspace, struct workspace *ws)
{
	struct sq     q;
	char          sql[512];
	enum store_rc rc;
	int           f;

	memset(ws, 0, sizeof(*ws));
	if (snprintf(sql, sizeof(sql),
	        "SELECT w.id, w.slug, w.name, w.db_name, w.db_host, "
	        "w.db_port, w.db_socket, r.workspace_id FROM "
	        "`%1$s`.webhook_routes r LEFT JOIN `%1$s`.workspaces w ON "
	        "w.id = r.workspace_id WHERE r.kind = ? AND r.external_id = ?",
	        sq_ctl(db)) >= (int)sizeof(sql))
		return STORE_ERR;
	/*
	 * A read, safe to run twice: it is the connection's check too (no
	 * ping first), so a delivery of one message is five round trips.
	 */
	if ((rc = sq_open_read(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, kind);
	sq_str(&q, external_id);
	if ((rc = sq_run(&q)) != STORE_OK)
		goto out;
	if ((f = sq_fetch(&q)) != 1) {
		rc = f == 0 ? STORE_NOTFOUND : STORE_ERR;
		goto out;
	}
	*workspace = (uint64_t)sq_colint(&q, 7);
	if (sq_col(&q, 0) != NULL)
		rc = store_ws_from_row(&q, ws);
out:
	sq_close(&q);
	return rc;
}
