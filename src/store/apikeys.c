/*
 * apikeys: the internal API's keys, in the control database. The gate
 * reads a key by its hash (store_apikey_auth, or store_apikey_auth_conn
 * with the connection of a Meta call, whose answer the worker may reuse
 * for [api] gate_lease_ms: app.h): revoking a key is one UPDATE, and
 * once the lease has passed (the admin tool waits it out) every
 * worker's next request reads the revoked row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../db.h"
#include "../vault.h"
#include "apikeys.h"
#include "connection.h"
#include "sql.h"
#include "workspaces.h"

enum store_rc
store_apikey_add(struct db *db, const char *name,
    const unsigned char hash[APIKEY_HASH_BYTES], const char *shown,
    unsigned scopes, int all_ws, const uint64_t *ws_ids, size_t nws)
{
	struct sq     q;
	MYSQL        *my;
	char          list[256];
	uint64_t      id;
	size_t        i;
	enum store_rc rc;

	if (apikey_scopes_format(scopes, list, sizeof(list)) == -1)
		return STORE_ERR;
	if ((rc = sq_begin(db, NULL, &my)) != STORE_OK)
		return rc;
	if ((rc = sq_rows_on(&q, my,
	         SQ_ARGS(SQ_S(name), SQ_B(hash, APIKEY_HASH_BYTES), SQ_S(shown),
	             SQ_S(list), SQ_I(all_ws != 0)),
	         "INSERT INTO `%s`.api_keys (name, key_hash, "
	         "shown_prefix, scopes, all_workspaces) VALUES (?, ?, ?, ?, ?)",
	         sq_ctl(db))) != STORE_OK)
		goto fail;
	id = sq_insert_id(&q);
	sq_close(&q);
	for (i = 0; i < nws; i++)
		if ((rc = sq_do_on(my, SQ_ARGS(SQ_I(id), SQ_I(ws_ids[i])),
		         "INSERT IGNORE INTO `%s`.api_key_workspaces (key_id, "
		         "workspace_id) VALUES (?, ?)",
		         sq_ctl(db))) != STORE_OK)
			goto fail;
	return sq_commit(db, my);
fail:
	sq_rollback(db, my);
	return rc;
}

static void
copy_time(char out[20], const char *s)
{
	snprintf(out, 20, "%s", s ? s : "");
}

enum store_rc
store_apikey_list(struct db *db, struct apikey_row **out, size_t *n)
{
	struct sq          q;
	struct apikey_row *rows = NULL, *more, *r;
	size_t             cap = 0;
	const char        *ws;
	enum store_rc      rc;
	int                more_rows;

	*out = NULL;
	*n = 0;
	if ((rc = sq_rows(&q, db, NULL, NULL,
	         "SELECT k.id, k.name, "
	         "k.shown_prefix, k.scopes, k.all_workspaces, k.created_at, "
	         "k.last_used_at, k.revoked_at, (SELECT GROUP_CONCAT(w.slug ORDER "
	         "BY w.slug SEPARATOR ',') FROM `%1$s`.api_key_workspaces a JOIN "
	         "`%1$s`.workspaces w ON w.id = a.workspace_id WHERE a.key_id = "
	         "k.id) FROM `%1$s`.api_keys k ORDER BY k.name",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	while ((more_rows = sq_fetch(&q)) == 1) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			if ((more = realloc(rows, cap * sizeof(*rows))) == NULL)
				goto fail;
			rows = more;
		}
		r = &rows[*n];
		memset(r, 0, sizeof(*r));
		(*n)++;
		r->id = (uint64_t)sq_colint(&q, 0);
		snprintf(r->name, sizeof(r->name), "%s", sq_col(&q, 1));
		snprintf(r->shown, sizeof(r->shown), "%s", sq_col(&q, 2));
		/* The SET as MariaDB spells it: names we wrote, in order. */
		if (apikey_scopes_parse(sq_col(&q, 3) ? sq_col(&q, 3) : "",
		        &r->scopes, NULL, 0) == -1)
			r->scopes = 0;
		r->all_ws = sq_colint(&q, 4) != 0;
		copy_time(r->created_at, sq_col(&q, 5));
		copy_time(r->last_used_at, sq_col(&q, 6));
		copy_time(r->revoked_at, sq_col(&q, 7));
		ws = sq_col(&q, 8);
		if ((r->workspaces = strdup(ws ? ws : "")) == NULL)
			goto fail;
	}
	sq_close(&q);
	if (more_rows == -1) {
		store_apikey_list_free(rows, *n);
		*n = 0;
		return STORE_ERR;
	}
	*out = rows;
	return STORE_OK;
fail:
	sq_close(&q);
	store_apikey_list_free(rows, *n);
	*n = 0;
	return STORE_ERR;
}

void
store_apikey_list_free(struct apikey_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i].workspaces);
	free(rows);
}

enum store_rc
store_apikey_revoke(struct db *db, const char *name, int *already)
{
	struct sq     q;
	uint64_t      n;
	enum store_rc rc;

	*already = 0;
	if ((rc = sq_rows(&q, db, NULL, SQ_ARGS(SQ_S(name)),
	         "UPDATE "
	         "`%s`.api_keys SET revoked_at = UTC_TIMESTAMP() WHERE name = ? "
	         "AND revoked_at IS NULL",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	n = sq_affected(&q);
	sq_close(&q);
	if (n > 0)
		return STORE_OK;
	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_S(name)),
	         "SELECT 1 FROM "
	         "`%s`.api_keys WHERE name = ?",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	sq_close(&q);
	*already = 1;
	return STORE_OK;
}

/*
 * Runs q (the gate's statements: key id in column 7, its hash in 8, its
 * scopes in 9) and reads its one row into a: STORE_NOTFOUND when there
 * is none or the hash read back differs (compared in constant time).
 */
static enum store_rc
apikey_row(struct sq *q, const unsigned char hash[APIKEY_HASH_BYTES],
    struct apikey_auth *a)
{
	enum store_rc rc;

	if ((rc = sq_run(q)) != STORE_OK)
		return rc;
	switch (sq_fetch(q)) {
	case 1:
		break;
	case 0:
		return STORE_NOTFOUND;
	default:
		return STORE_ERR;
	}
	if (sq_collen(q, 8) != APIKEY_HASH_BYTES ||
	    sodium_memcmp(sq_col(q, 8), hash, APIKEY_HASH_BYTES) != 0)
		return STORE_NOTFOUND;
	a->id = (uint64_t)sq_colint(q, 7);
	if (apikey_scopes_parse(sq_col(q, 9) ? sq_col(q, 9) : "", &a->scopes,
	        NULL, 0) == -1)
		a->scopes = 0;
	return STORE_OK;
}

/*
 * One statement, the API request's first round trip (sq_open_read: a
 * read, so it is also the connection's check, as the session gate's):
 * the key, and the workspace named slug when the key may touch it. A
 * workspace the key may not touch reads as none, never as its row, and
 * one still being made (no database yet) as none too. Scopes come as
 * the SET's text and are parsed by name, so their bits do not depend on
 * the column's declaration order.
 */
enum store_rc
store_apikey_auth(struct db *db, const unsigned char hash[APIKEY_HASH_BYTES],
    const char *slug, struct apikey_auth *a, struct workspace *ws)
{
	struct sq     q;
	char          sql[1024];
	enum store_rc rc;

	memset(a, 0, sizeof(*a));
	snprintf(sql, sizeof(sql),
	    "SELECT w.id, w.slug, w.name, w.db_name, "
	    "w.db_host, w.db_port, w.db_socket, k.id, k.key_hash, k.scopes, "
	    "w.id IS NOT NULL AND (k.all_workspaces OR EXISTS (SELECT 1 FROM "
	    "`%1$s`.api_key_workspaces a WHERE a.key_id = k.id AND "
	    "a.workspace_id = w.id)), k.last_used_at IS NULL OR "
	    "k.last_used_at < UTC_TIMESTAMP() - INTERVAL 60 SECOND FROM "
	    "`%1$s`.api_keys k LEFT JOIN `%1$s`.workspaces w ON w.slug = ? "
	    "AND w.db_name IS NOT NULL WHERE k.key_hash = ? AND k.revoked_at "
	    "IS NULL",
	    sq_ctl(db));
	if ((rc = sq_open_read(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, slug); /* NULL: = NULL matches no workspace */
	sq_bin(&q, hash, APIKEY_HASH_BYTES);
	if ((rc = apikey_row(&q, hash, a)) != STORE_OK)
		goto out;
	a->stale = sq_colint(&q, 11) != 0;
	if (sq_colint(&q, 10) != 0 && sq_col(&q, 0) != NULL) {
		if ((rc = store_ws_from_row(&q, ws)) != STORE_OK)
			goto out;
		a->may_touch = 1;
	}
out:
	sq_close(&q);
	return rc;
}

enum store_rc
store_apikey_auth_conn(struct db *db,
    const unsigned char hash[APIKEY_HASH_BYTES], const struct workspace *known,
    struct apikey_auth *a, struct workspace *ws, struct conn_row *r,
    struct vault_box *b)
{
	struct sq     q;
	char          sql[1400];
	enum store_rc rc;

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	/* known->db_name passed store_ws_from_row's check: safe to quote. */
	if (*known->srv.host || known->srv.port || *known->srv.socket ||
	    *known->db_name == '\0')
		return STORE_NOTFOUND;
	/*
	 * Inner joins: no row unless every part holds. No grant: the
	 * caller has seen this key granted known, and grants never change
	 * (store_apikey_add is their only writer). A table fewer matters:
	 * MariaDB plans a prepared statement on every execution (with and
	 * without the grant from a bare C client, alternating, six rounds
	 * of 3,000: median 257 -> 166 us on a loaded 2-core machine).
	 */
	if (snprintf(sql, sizeof(sql),
	        "SELECT w.id, w.slug, w.name, w.db_name, w.db_host, w.db_port, "
	        "w.db_socket, k.id, k.key_hash, k.scopes, k.last_used_at IS NULL "
	        "OR k.last_used_at < UTC_TIMESTAMP() - INTERVAL 60 SECOND, " STORE_CONN_BOX_COLS
	        " FROM `%1$s`.api_keys k JOIN `%1$s`.workspaces "
	        "w ON w.slug = ? AND w.id = ? AND w.db_name = ? AND w.db_host = '' "
	        "AND w.db_port = 0 AND w.db_socket = '' JOIN `%2$s`.connection c "
	        "ON c.id = 1 WHERE k.key_hash = ? AND k.revoked_at IS NULL",
	        sq_ctl(db), known->db_name) >= (int)sizeof(sql))
		return STORE_ERR;
	if ((rc = sq_open_read(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_str(&q, known->slug);
	sq_int(&q, (long long)known->id);
	sq_str(&q, known->db_name);
	sq_bin(&q, hash, APIKEY_HASH_BYTES);
	if ((rc = apikey_row(&q, hash, a)) != STORE_OK ||
	    (rc = store_ws_from_row(&q, ws)) != STORE_OK)
		goto out;
	a->stale = sq_colint(&q, 10) != 0;
	a->may_touch = 1;
	if (store_conn_box_row(&q, 11, r, b) == -1)
		rc = STORE_ERR;
out:
	sq_close(&q);
	if (rc != STORE_OK)
		vault_box_free(b);
	return rc;
}

enum store_rc
store_apikey_touch(struct db *db, uint64_t id)
{
	return sq_do(db, NULL, SQ_ARGS(SQ_I(id)),
	    "UPDATE `%s`.api_keys SET "
	    "last_used_at = UTC_TIMESTAMP() WHERE id = ? AND (last_used_at IS "
	    "NULL OR last_used_at < UTC_TIMESTAMP() - INTERVAL 60 SECOND)",
	    sq_ctl(db));
}
