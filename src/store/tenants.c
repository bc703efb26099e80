#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config.h"
#include "../db.h"
#include "../log.h"
#include "sql.h"
#include "tenants.h"

#define WS_COLS "id, slug, name, db_name, db_host, db_port, db_socket"

static const char *
ctl(struct db *db)
{
	return db_config(db)->control_db;
}

static void
ws_from_row(const struct sq *q, struct workspace *ws)
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
}

/* A database name we will splice into SQL must be what we generate. */
static int
ws_dbname_ok(const char *s)
{
	return *s && strlen(s) < 65 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

static enum store_rc
ws_one(struct db *db, const char *where, const char *s, uint64_t id,
    struct workspace *ws)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "SELECT " WS_COLS " FROM `%s`.workspaces "
	    "WHERE %s = ?", ctl(db), where);
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	if (s)
		sq_str(&q, s);
	else
		sq_int(&q, (long long)id);
	if ((rc = sq_run(&q)) == STORE_OK) {
		switch (sq_fetch(&q)) {
		case 1:
			ws_from_row(&q, ws);
			if (!ws_dbname_ok(ws->db_name)) {
				log_err("workspace %llu: bad database name",
				    (unsigned long long)ws->id);
				rc = STORE_ERR;
			}
			break;
		case 0:
			rc = STORE_NOTFOUND;
			break;
		default:
			rc = STORE_ERR;
		}
	}
	sq_close(&q);
	return rc;
}

enum store_rc
store_ws_by_slug(struct db *db, const char *slug,
    struct workspace *ws)
{
	return ws_one(db, "slug", slug, 0, ws);
}

enum store_rc
store_ws_by_id(struct db *db, uint64_t id, struct workspace *ws)
{
	return ws_one(db, "id", NULL, id, ws);
}

enum store_rc
store_ws_add(struct db *db, const char *slug, const char *name,
    const struct db_server *srv, struct workspace *ws)
{
	struct sq	 q;
	MYSQL		*my;
	char		 sql[256], dbname[65];
	uint64_t	 id;
	enum store_rc	 rc;

	if ((rc = sq_begin(db, NULL, &my)) != STORE_OK)
		return rc;
	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.workspaces (slug, name, "
	    "db_host, db_port, db_socket) VALUES (?, ?, ?, ?, ?)", ctl(db));
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		goto fail;
	sq_str(&q, slug);
	sq_str(&q, name);
	sq_str(&q, srv ? srv->host : "");
	sq_int(&q, srv ? srv->port : 0);
	sq_str(&q, srv ? srv->socket : "");
	rc = sq_run(&q);
	id = sq_insert_id(&q);
	sq_close(&q);
	if (rc != STORE_OK)
		goto fail;
	/* The id names the database: known only after the insert. */
	snprintf(dbname, sizeof(dbname), "%s%llu",
	    db_config(db)->workspace_db_prefix, (unsigned long long)id);
	snprintf(sql, sizeof(sql), "UPDATE `%s`.workspaces SET db_name = ? "
	    "WHERE id = ?", ctl(db));
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		goto fail;
	sq_str(&q, dbname);
	sq_int(&q, (long long)id);
	rc = sq_run(&q);
	sq_close(&q);
	if (rc != STORE_OK)
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
store_ws_each(struct db *db,
    int (*fn)(const struct workspace *, void *), void *arg)
{
	struct sq	 q;
	struct workspace *all = NULL, *n;
	size_t		 count = 0, i;
	char		 sql[256];
	enum store_rc	 rc;
	int		 r;

	snprintf(sql, sizeof(sql), "SELECT " WS_COLS " FROM `%s`.workspaces "
	    "WHERE db_name IS NOT NULL ORDER BY id", ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	/*
	 * Collect first, then call: fn may itself use the database (and
	 * the same connection) while we would still be reading rows.
	 */
	if ((rc = sq_run(&q)) == STORE_OK)
		while ((r = sq_fetch(&q)) == 1) {
			if ((n = realloc(all, (count + 1) * sizeof(*n))) ==
			    NULL) {
				rc = STORE_ERR;
				break;
			}
			all = n;
			ws_from_row(&q, &all[count++]);
		}
	sq_close(&q);
	for (i = 0; rc == STORE_OK && i < count; i++) {
		if (!ws_dbname_ok(all[i].db_name)) {
			rc = STORE_ERR;
			break;
		}
		if (fn(&all[i], arg) != 0)
			break;
	}
	free(all);
	return rc;
}

enum store_rc
store_user_by_email(struct db *db, const char *email, struct user *u,
    char *hash, size_t hashlen)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "SELECT id, email, password_hash FROM "
	    "`%s`.users WHERE email = ?", ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, email);
	if ((rc = sq_run(&q)) == STORE_OK) {
		switch (sq_fetch(&q)) {
		case 1:
			u->id = (uint64_t)sq_colint(&q, 0);
			snprintf(u->email, sizeof(u->email), "%s",
			    sq_col(&q, 1));
			if (hash)
				snprintf(hash, hashlen, "%s", sq_col(&q, 2));
			break;
		case 0:
			rc = STORE_NOTFOUND;
			break;
		default:
			rc = STORE_ERR;
		}
	}
	sq_close(&q);
	return rc;
}

enum store_rc
store_user_add(struct db *db, const char *email, const char *hash,
    uint64_t *id)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.users (email, "
	    "password_hash) VALUES (?, ?)", ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, email);
	sq_str(&q, hash);
	if ((rc = sq_run(&q)) == STORE_OK)
		*id = sq_insert_id(&q);
	sq_close(&q);
	return rc;
}

enum store_rc
store_user_member_add(struct db *db, uint64_t user, uint64_t workspace)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT IGNORE INTO `%s`.memberships "
	    "(user_id, workspace_id) VALUES (?, ?)", ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_int(&q, (long long)user);
	sq_int(&q, (long long)workspace);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

enum store_rc
store_user_is_member(struct db *db, uint64_t user, uint64_t workspace)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "SELECT 1 FROM `%s`.memberships WHERE "
	    "user_id = ? AND workspace_id = ?", ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_int(&q, (long long)user);
	sq_int(&q, (long long)workspace);
	if ((rc = sq_run(&q)) == STORE_OK)
		rc = sq_fetch(&q) == 1 ? STORE_OK : STORE_NOTFOUND;
	sq_close(&q);
	return rc;
}

enum store_rc
store_user_first_ws(struct db *db, uint64_t user, struct workspace *ws)
{
	struct sq	 q;
	char		 sql[320];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "SELECT w.id, w.slug, w.name, w.db_name, "
	    "w.db_host, w.db_port, w.db_socket FROM `%s`.workspaces w JOIN "
	    "`%s`.memberships m ON m.workspace_id = w.id WHERE m.user_id = ? "
	    "AND w.db_name IS NOT NULL ORDER BY w.id LIMIT 1", ctl(db),
	    ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_int(&q, (long long)user);
	if ((rc = sq_run(&q)) == STORE_OK) {
		if (sq_fetch(&q) == 1)
			ws_from_row(&q, ws);
		else
			rc = STORE_NOTFOUND;
	}
	sq_close(&q);
	return rc;
}

/*
 * One route inside the open transaction on my. An id routed to another
 * workspace moves here only when take is set.
 */
static enum store_rc
route_put(struct db *db, MYSQL *my, const char *kind, const char *id,
    uint64_t workspace, int take)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.webhook_routes (kind, "
	    "external_id, workspace_id) VALUES (?, ?, ?) ON DUPLICATE KEY "
	    "UPDATE workspace_id = IF(?, VALUES(workspace_id), workspace_id)",
	    ctl(db));
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	sq_str(&q, kind);
	sq_str(&q, id);
	sq_int(&q, (long long)workspace);
	sq_int(&q, take);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

/* Deletes workspace's rows of table (webhook_routes or webhook_grants). */
static enum store_rc
route_forget(struct db *db, MYSQL *my, const char *table, uint64_t workspace)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.%s WHERE workspace_id = ?",
	    ctl(db), table);
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	sq_int(&q, (long long)workspace);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

/* Records that workspace's token grants waba_id. */
static enum store_rc
route_grant(struct db *db, MYSQL *my, const char *waba_id, uint64_t workspace)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT IGNORE INTO `%s`.webhook_grants "
	    "(waba_id, workspace_id) VALUES (?, ?)", ctl(db));
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	sq_str(&q, waba_id);
	sq_int(&q, (long long)workspace);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
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
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT IGNORE INTO `%1$s`.webhook_routes "
	    "(kind, external_id, workspace_id) SELECT 'waba', g.waba_id, "
	    "MIN(g.workspace_id) FROM `%1$s`.webhook_grants g LEFT JOIN "
	    "`%1$s`.webhook_routes r ON r.kind = 'waba' AND "
	    "r.external_id = g.waba_id WHERE r.external_id IS NULL "
	    "GROUP BY g.waba_id", ctl(db));
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

/*
 * Routes each number of the comma-separated list to workspace, inside
 * the transaction on my; STORE_DUP when one routes elsewhere already.
 */
static enum store_rc
route_phones(struct db *db, MYSQL *my, const char *phones,
    uint64_t workspace)
{
	struct sq	 q;
	char		 id[33], sql[256];
	const char	*p;
	size_t		 n;
	enum store_rc	 rc;

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
		snprintf(sql, sizeof(sql), "SELECT workspace_id FROM "
		    "`%s`.webhook_routes WHERE kind = 'phone' AND "
		    "external_id = ?", ctl(db));
		if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
			return rc;
		sq_str(&q, id);
		if ((rc = sq_run(&q)) == STORE_OK && (sq_fetch(&q) != 1 ||
		    (uint64_t)sq_colint(&q, 0) != workspace))
			rc = STORE_DUP;
		sq_close(&q);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

enum store_rc
store_route_replace(struct db *db, uint64_t workspace,
    const char *granted, const char *chosen, const char *phones)
{
	MYSQL		*my;
	char		 id[33];
	const char	*p;
	size_t		 n;
	enum store_rc	 rc;

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
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "SELECT workspace_id FROM `%s`.webhook_routes "
	    "WHERE kind = ? AND external_id = ?", ctl(db));
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, kind);
	sq_str(&q, external_id);
	if ((rc = sq_run(&q)) == STORE_OK) {
		if (sq_fetch(&q) == 1)
			*workspace = (uint64_t)sq_colint(&q, 0);
		else
			rc = STORE_NOTFOUND;
	}
	sq_close(&q);
	return rc;
}
