/*
 * workspaces: the rows of the control database's workspaces table. A
 * workspace's database is named from its id, which the insert gives, so
 * adding one is an insert and an update in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config.h"
#include "../db.h"
#include "../log.h"
#include "sql.h"
#include "workspaces.h"

/* A database name we will splice into SQL must be what we generate. */
static int
ws_dbname_ok(const char *s)
{
	return *s && strlen(s) < 65 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

enum store_rc
store_ws_from_row(const struct sq *q, struct workspace *ws)
{
	memset(ws, 0, sizeof(*ws));
	ws->id = (uint64_t)sq_colint(q, 0);
	snprintf(ws->slug, sizeof(ws->slug), "%s", sq_col(q, 1));
	snprintf(ws->name, sizeof(ws->name), "%s", sq_col(q, 2));
	snprintf(ws->db_name, sizeof(ws->db_name), "%s",
	    sq_col(q, 3) ? sq_col(q, 3) : "");
	snprintf(ws->srv.host, sizeof(ws->srv.host), "%s", sq_col(q, 4));
	ws->srv.port = (unsigned int)sq_colint(q, 5);
	snprintf(ws->srv.socket, sizeof(ws->srv.socket), "%s", sq_col(q, 6));
	if (!ws_dbname_ok(ws->db_name)) {
		log_err("workspace %llu: bad database name",
		    (unsigned long long)ws->id);
		return STORE_ERR;
	}
	return STORE_OK;
}

enum store_rc
store_ws_by_slug(struct db *db, const char *slug, struct workspace *ws)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_S(slug)),
	         "SELECT " STORE_WS_COLS " FROM `%s`.workspaces WHERE slug = ?",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	rc = store_ws_from_row(&q, ws);
	sq_close(&q);
	return rc;
}

enum store_rc
store_ws_by_id(struct db *db, uint64_t id, struct workspace *ws)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_I(id)),
	         "SELECT " STORE_WS_COLS " FROM `%s`.workspaces WHERE id = ?",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	rc = store_ws_from_row(&q, ws);
	sq_close(&q);
	return rc;
}

enum store_rc
store_ws_add(struct db *db, const char *slug, const char *name,
    const struct db_server *srv, struct workspace *ws)
{
	struct sq     q;
	MYSQL        *my;
	char          dbname[65];
	uint64_t      id;
	enum store_rc rc;

	if ((rc = sq_begin(db, NULL, &my)) != STORE_OK)
		return rc;
	if ((rc = sq_rows_on(&q, my,
	         SQ_ARGS(SQ_S(slug), SQ_S(name), SQ_S(srv ? srv->host : ""),
	             SQ_I(srv ? srv->port : 0), SQ_S(srv ? srv->socket : "")),
	         "INSERT INTO `%s`.workspaces "
	         "(slug, name, db_host, db_port, db_socket) VALUES (?, ?, ?, ?, ?)",
	         sq_ctl(db))) != STORE_OK)
		goto fail;
	id = sq_insert_id(&q);
	sq_close(&q);
	/* The id names the database: known only after the insert. */
	snprintf(dbname, sizeof(dbname), "%s%llu",
	    db_config(db)->workspace_db_prefix, (unsigned long long)id);
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_S(dbname), SQ_I(id)),
	         "UPDATE "
	         "`%s`.workspaces SET db_name = ? WHERE id = ?",
	         sq_ctl(db))) != STORE_OK)
		goto fail;
	/* A failed COMMIT has dropped (closed) the connection: no rollback. */
	if ((rc = sq_commit(db, my)) != STORE_OK)
		return rc;
	return store_ws_by_id(db, id, ws);
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_ws_each(struct db *db, int (*fn)(const struct workspace *, void *),
    void                *arg)
{
	struct sq         q;
	struct workspace *all = NULL, *n;
	size_t            count = 0, i;
	enum store_rc     rc, bad = STORE_OK;
	int               r;

	if ((rc = sq_rows(&q, db, NULL, NULL,
	         "SELECT " STORE_WS_COLS
	         " FROM `%s`.workspaces WHERE db_name IS NOT NULL ORDER BY id",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	/*
	 * Collect first, then call: fn may itself use the database (and
	 * the same connection) while we would still be reading rows. The
	 * workspaces before one with a bad database name are still done.
	 */
	while ((r = sq_fetch(&q)) == 1) {
		if ((n = realloc(all, (count + 1) * sizeof(*n))) == NULL) {
			r = -1;
			break;
		}
		all = n;
		if ((bad = store_ws_from_row(&q, &all[count])) != STORE_OK)
			break;
		count++;
	}
	if (r == -1)
		rc = STORE_ERR;
	sq_close(&q);
	for (i = 0; rc == STORE_OK && i < count; i++)
		if (fn(&all[i], arg) != 0) {
			bad = STORE_OK; /* fn stopped before it */
			break;
		}
	free(all);
	return rc != STORE_OK ? rc : bad;
}
