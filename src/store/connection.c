#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db.h"
#include "../log.h"
#include "../vault.h"
#include "connection.h"
#include "numbers.h"
#include "sql.h"
#include "tenants.h"

/*
 * A restriction or ban Meta reported (account_update) holds the
 * connection at needs_reconnect, with its words as the reason, until
 * Meta lifts it (a later account_update) or the end Meta gave for it
 * has passed. A valid token, a reconnect or a chosen number prove
 * nothing about it, so they keep it; it counts for the WABA it was
 * reported on. Used after waba_id has its new value in a statement.
 */
#define CONN_RESTRICTED "(restriction IS NOT NULL AND " \
	"restriction_waba <=> waba_id AND (restriction_until IS NULL OR " \
	"restriction_until > UTC_TIMESTAMP()))"

static void
cp(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

enum store_rc
store_conn_get(struct db *db, const struct workspace *ws, struct conn_row *r)
{
	struct sq	 q;
	char		 sql[1024];
	enum store_rc	 rc;

	memset(r, 0, sizeof(*r));
	snprintf(sql, sizeof(sql), "SELECT c.status, c.reason, c.waba_id, "
	    "c.waba_ids, c.scopes, c.token_ct IS NOT NULL, "
	    "c.token_key_version, c.token_expires_at, "
	    "TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), c.token_expires_at), "
	    "c.phone_number_id, c.display_phone_number, c.verified_name, "
	    "c.quality_rating, c.connected_at, c.last_verified_at, "
	    "k.catalog_id, k.catalog_name, k.status, k.reason "
	    "FROM `%s`.connection c LEFT JOIN `%s`.catalog k ON k.id = 1 "
	    "WHERE c.id = 1", ws->db_name, ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) != STORE_OK)
		goto out;
	if (sq_fetch(&q) != 1) {
		rc = STORE_NOTFOUND;
		goto out;
	}
	cp(r->status, sizeof(r->status), sq_col(&q, 0));
	cp(r->reason, sizeof(r->reason), sq_col(&q, 1));
	cp(r->waba_id, sizeof(r->waba_id), sq_col(&q, 2));
	cp(r->waba_ids, sizeof(r->waba_ids), sq_col(&q, 3));
	cp(r->scopes, sizeof(r->scopes), sq_col(&q, 4));
	r->has_token = sq_colint(&q, 5) != 0;
	r->key_version = (uint32_t)sq_colint(&q, 6);
	cp(r->token_expires_at, sizeof(r->token_expires_at), sq_col(&q, 7));
	r->token_expires_in = sq_colint(&q, 8);
	cp(r->phone_number_id, sizeof(r->phone_number_id), sq_col(&q, 9));
	cp(r->display_phone_number, sizeof(r->display_phone_number),
	    sq_col(&q, 10));
	cp(r->verified_name, sizeof(r->verified_name), sq_col(&q, 11));
	cp(r->quality_rating, sizeof(r->quality_rating), sq_col(&q, 12));
	cp(r->connected_at, sizeof(r->connected_at), sq_col(&q, 13));
	cp(r->last_verified_at, sizeof(r->last_verified_at), sq_col(&q, 14));
	r->has_catalog = sq_col(&q, 15) != NULL;
	cp(r->catalog_id, sizeof(r->catalog_id), sq_col(&q, 15));
	cp(r->catalog_name, sizeof(r->catalog_name), sq_col(&q, 16));
	cp(r->catalog_status, sizeof(r->catalog_status), sq_col(&q, 17));
	cp(r->catalog_reason, sizeof(r->catalog_reason), sq_col(&q, 18));
out:
	sq_close(&q);
	return rc;
}

static const char *
conn_table(const char *kind)
{
	return strcmp(kind, VAULT_KIND_CATALOG) == 0 ? "catalog" :
	    "connection";
}

/*
 * Copies the current row's (version, nonce, ct) columns at i.. into box.
 * A row whose version or nonce is missing or malformed still becomes a
 * box, marked damaged: it is that workspace's undecryptable token (the
 * vault says so, naming the workspace), not a database failure. -1 only
 * when out of memory.
 */
static int
conn_box_from_row(const struct sq *q, unsigned int i, struct vault_box *b)
{
	long long	 ver;

	memset(b, 0, sizeof(*b));
	ver = sq_col(q, i) != NULL ? sq_colint(q, i) : 0;
	if (ver >= 1 && ver <= UINT32_MAX)
		b->key_version = (uint32_t)ver;
	else
		b->damaged = 1;
	if (sq_col(q, i + 1) != NULL &&
	    sq_collen(q, i + 1) == VAULT_NONCE_BYTES)
		memcpy(b->nonce, sq_col(q, i + 1), VAULT_NONCE_BYTES);
	else
		b->damaged = 1;
	if (sq_col(q, i + 2) != NULL)
		b->ctlen = sq_collen(q, i + 2);
	else
		b->damaged = 1;
	if ((b->ct = malloc(b->ctlen ? b->ctlen : 1)) == NULL)
		return -1;
	if (b->ctlen > 0)
		memcpy(b->ct, sq_col(q, i + 2), b->ctlen);
	return 0;
}

enum store_rc
store_conn_token_get(struct db *db, const struct workspace *ws,
    const char *kind, struct vault_box *b)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "SELECT token_key_version, token_nonce, "
	    "token_ct FROM `%s`.%s WHERE id = 1 AND token_ct IS NOT NULL",
	    ws->db_name, conn_table(kind));
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) == STORE_OK) {
		if (sq_fetch(&q) != 1)
			rc = STORE_NOTFOUND;
		else if (conn_box_from_row(&q, 0, b) == -1)
			rc = STORE_ERR;
	}
	sq_close(&q);
	return rc;
}

enum store_rc
store_conn_audit(struct db *db, const struct workspace *ws,
    const char *actor, const char *action, const char *detail)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.audit_log (at, actor, "
	    "action, detail) VALUES (UTC_TIMESTAMP(), ?, ?, ?)", ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	sq_str(&q, actor);
	sq_str(&q, action);
	sq_str(&q, detail);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

enum store_rc
store_conn_token_put(struct db *db, const struct workspace *ws,
    const char *kind, const struct vault_box *b, const char *catalog_id,
    const char *actor)
{
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	if (strcmp(kind, VAULT_KIND_CATALOG) == 0)
		snprintf(sql, sizeof(sql), "REPLACE INTO `%s`.catalog (id, "
		    "catalog_id, status, token_key_version, token_nonce, "
		    "token_ct, connected_at) VALUES (1, ?, 'connected', ?, ?, "
		    "?, UTC_TIMESTAMP())", ws->db_name);
	else
		/*
		 * Not yet checked against Meta: the page says so, and
		 * Verify (or the OAuth flow) settles the status.
		 */
		snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET "
		    "token_key_version = ?, token_nonce = ?, token_ct = ?, "
		    "status = IF(status = 'not_connected', "
		    "'pending_phone_selection', status), "
		    "token_stored_at = UTC_TIMESTAMP(), "
		    "updated_at = UTC_TIMESTAMP() WHERE id = 1", ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if (strcmp(kind, VAULT_KIND_CATALOG) == 0)
		sq_str(&q, catalog_id);
	sq_int(&q, b->key_version);
	sq_bin(&q, b->nonce, VAULT_NONCE_BYTES);
	sq_bin(&q, b->ct, b->ctlen);
	rc = sq_run(&q);
	sq_close(&q);
	if (rc == STORE_OK)
		store_conn_audit(db, ws, actor, "token_set", kind);
	return rc;
}

/* Re-encrypts one table's token inside the open transaction on my. */
static enum store_rc
conn_rekey_one(MYSQL *my, const struct workspace *ws, const char *kind,
    const struct vault *v, int *changed, char *err, size_t errlen)
{
	struct sq	 q;
	struct vault_box in, out;
	char		 sql[256];
	enum store_rc	 rc;
	int		 have;

	memset(&out, 0, sizeof(out));
	snprintf(sql, sizeof(sql), "SELECT token_key_version, token_nonce, "
	    "token_ct FROM `%s`.%s WHERE id = 1 AND token_ct IS NOT NULL "
	    "FOR UPDATE", ws->db_name, conn_table(kind));
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) != STORE_OK) {
		sq_close(&q);
		return rc;
	}
	have = sq_fetch(&q) == 1;
	if (have && conn_box_from_row(&q, 0, &in) == -1)
		rc = STORE_ERR;
	sq_close(&q);
	if (!have || rc != STORE_OK)
		return rc;
	/* A damaged row goes on, to be reported by the vault with its workspace. */
	if (!in.damaged && in.key_version == vault_current_version(v)) {
		vault_box_free(&in);
		return STORE_OK;
	}
	if (vault_reencrypt(v, ws->id, kind, &in, &out, err, errlen) == -1) {
		vault_box_free(&in);
		return STORE_ERR;
	}
	vault_box_free(&in);
	snprintf(sql, sizeof(sql), "UPDATE `%s`.%s SET token_key_version = ?, "
	    "token_nonce = ?, token_ct = ? WHERE id = 1", ws->db_name,
	    conn_table(kind));
	if ((rc = sq_open_on(&q, my, sql)) == STORE_OK) {
		sq_int(&q, out.key_version);
		sq_bin(&q, out.nonce, VAULT_NONCE_BYTES);
		sq_bin(&q, out.ct, out.ctlen);
		rc = sq_run(&q);
		sq_close(&q);
	}
	vault_box_free(&out);
	if (rc == STORE_OK)
		(*changed)++;
	return rc;
}

enum store_rc
store_conn_rekey(struct db *db, const struct workspace *ws,
    const struct vault *v, int *changed, char *err, size_t errlen)
{
	MYSQL		*my;
	enum store_rc	 rc;

	*changed = 0;
	snprintf(err, errlen, "database error");
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = conn_rekey_one(my, ws, VAULT_KIND_WABA, v, changed, err,
	    errlen)) != STORE_OK ||
	    (rc = conn_rekey_one(my, ws, VAULT_KIND_CATALOG, v, changed, err,
	    errlen)) != STORE_OK) {
		sq_rollback(db, my);
		*changed = 0;
		return rc;
	}
	return sq_commit(db, my);
}

enum store_rc
store_conn_version_span(struct db *db, const struct workspace *ws,
    uint32_t *lo, uint32_t *hi)
{
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	*lo = *hi = 0;
	snprintf(sql, sizeof(sql), "SELECT MIN(v), MAX(v) FROM (SELECT "
	    "token_key_version AS v FROM `%s`.connection WHERE token_ct IS NOT "
	    "NULL UNION ALL SELECT token_key_version FROM `%s`.catalog WHERE "
	    "token_ct IS NOT NULL) t", ws->db_name, ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) == STORE_OK && sq_fetch(&q) == 1 &&
	    sq_col(&q, 0) != NULL) {
		*lo = (uint32_t)sq_colint(&q, 0);
		*hi = (uint32_t)sq_colint(&q, 1);
	}
	sq_close(&q);
	return rc;
}

enum store_rc
store_conn_versions(struct db *db, const struct workspace *ws,
    uint64_t *mask)
{
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;
	long long	 ver;
	int		 r;

	*mask = 0;
	snprintf(sql, sizeof(sql), "SELECT token_key_version FROM "
	    "`%s`.connection WHERE token_ct IS NOT NULL UNION SELECT "
	    "token_key_version FROM `%s`.catalog", ws->db_name, ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) == STORE_OK)
		while ((r = sq_fetch(&q)) == 1) {
			ver = sq_colint(&q, 0);
			if (ver >= 1 && ver <= 64)
				*mask |= 1ULL << (ver - 1);
		}
	sq_close(&q);
	return rc;
}

enum store_rc
store_conn_version_used(struct db *db, const struct workspace *ws,
    uint32_t ver, int *used)
{
	struct sq	 q;
	char		 sql[512];
	uint64_t	 mask;
	enum store_rc	 rc;

	if (ver <= 64) {	/* what store_conn_versions() can answer */
		rc = store_conn_versions(db, ws, &mask);
		*used = (mask >> (ver - 1)) & 1;
		return rc;
	}
	snprintf(sql, sizeof(sql), "SELECT (SELECT COUNT(*) FROM "
	    "`%s`.connection WHERE token_ct IS NOT NULL AND "
	    "token_key_version = ?) + (SELECT COUNT(*) FROM `%s`.catalog "
	    "WHERE token_ct IS NOT NULL AND token_key_version = ?)",
	    ws->db_name, ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	sq_int(&q, ver);
	sq_int(&q, ver);
	if ((rc = sq_run(&q)) == STORE_OK)
		*used = sq_fetch(&q) == 1 && sq_colint(&q, 0) > 0;
	sq_close(&q);
	return rc;
}

/* Runs one UPDATE/DELETE of the connection's own row(s) with string args. */
static enum store_rc
conn_update(struct db *db, const struct workspace *ws, const char *sql,
    const char *const *args, size_t n)
{
	struct sq	 q;
	enum store_rc	 rc;
	size_t		 i;

	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	for (i = 0; i < n; i++)
		sq_str(&q, args[i]);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

/*
 * Inside the transaction on my: forgets the workspace's numbers, all of
 * them, or (keep_wabas not NULL) those on a WABA not in that
 * comma-separated list.
 */
static enum store_rc
conn_numbers_forget_on(MYSQL *my, const struct workspace *ws,
    const char *keep_wabas)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	if (keep_wabas != NULL)
		snprintf(sql, sizeof(sql), "DELETE FROM `%s`.phone_numbers "
		    "WHERE FIND_IN_SET(waba_id, ?) = 0", ws->db_name);
	else
		snprintf(sql, sizeof(sql), "DELETE FROM `%s`.phone_numbers",
		    ws->db_name);
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	if (keep_wabas != NULL)
		sq_str(&q, keep_wabas);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

enum store_rc
store_conn_save_oauth(struct db *db, const struct workspace *ws,
    const struct conn_oauth *o, const char *actor)
{
	struct sq	 q;
	MYSQL		*my;
	char		 sql[2048];
	enum store_rc	 rc;

	/*
	 * One statement, so the new token, its WABAs and the status change
	 * together or not at all. A kept number stays; otherwise the number
	 * is forgotten and the merchant picks one again.
	 */
	snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET "
	    "token_key_version = ?, token_nonce = ?, token_ct = ?, "
	    "token_expires_at = IF(? = 0, NULL, FROM_UNIXTIME(?)), "
	    "waba_ids = ?, scopes = ?, "
	    "waba_id = IF(? = 1, waba_id, ?), "
	    "status = IF(? = 1, IF(" CONN_RESTRICTED ", 'needs_reconnect', "
	    "'connected'), 'pending_phone_selection'), "
	    "reason = IF(" CONN_RESTRICTED ", restriction, NULL), "
	    "token_stored_at = UTC_TIMESTAMP(), "
	    "phone_number_id = IF(? = 1, phone_number_id, NULL), "
	    "display_phone_number = IF(? = 1, display_phone_number, NULL), "
	    "verified_name = IF(? = 1, verified_name, NULL), "
	    "quality_rating = IF(? = 1, quality_rating, NULL), "
	    "connected_at = COALESCE(connected_at, UTC_TIMESTAMP()), "
	    "last_verified_at = UTC_TIMESTAMP(), updated_at = UTC_TIMESTAMP() "
	    "WHERE id = 1", ws->db_name);
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		goto fail;
	sq_int(&q, o->box->key_version);
	sq_bin(&q, o->box->nonce, VAULT_NONCE_BYTES);
	sq_bin(&q, o->box->ct, o->box->ctlen);
	sq_int(&q, o->expires_at);
	sq_int(&q, o->expires_at);
	sq_str(&q, o->waba_ids);
	sq_str(&q, o->scopes);
	sq_int(&q, o->keep_phone);
	sq_str(&q, o->waba_id);
	sq_int(&q, o->keep_phone);
	sq_int(&q, o->keep_phone);
	sq_int(&q, o->keep_phone);
	sq_int(&q, o->keep_phone);
	sq_int(&q, o->keep_phone);
	rc = sq_run(&q);
	sq_close(&q);
	/*
	 * The numbers go with the number: a kept default keeps the others
	 * the new token still grants; otherwise the merchant adds them
	 * again.
	 */
	if (rc != STORE_OK ||
	    (rc = conn_numbers_forget_on(my, ws, o->keep_phone ? o->waba_ids :
	    NULL)) != STORE_OK)
		goto fail;
	if ((rc = sq_commit(db, my)) != STORE_OK)
		return rc;
	store_conn_audit(db, ws, actor, o->keep_phone ? "reconnected" :
	    "token_stored", o->waba_id ? o->waba_id : o->waba_ids);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_conn_choose_waba(struct db *db, const struct workspace *ws,
    const char *waba_id, const char *actor)
{
	struct sq	 q;
	MYSQL		*my;
	char		 sql[512];
	enum store_rc	 rc;

	/* FIND_IN_SET: only a WABA the token was granted can be chosen. */
	snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET waba_id = ?, "
	    "phone_number_id = NULL, display_phone_number = NULL, "
	    "verified_name = NULL, quality_rating = NULL, "
	    "status = 'pending_phone_selection', updated_at = UTC_TIMESTAMP() "
	    "WHERE id = 1 AND token_ct IS NOT NULL AND "
	    "FIND_IN_SET(?, waba_ids) > 0", ws->db_name);
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		goto fail;
	sq_str(&q, waba_id);
	sq_str(&q, waba_id);
	if ((rc = sq_run(&q)) == STORE_OK && sq_affected(&q) == 0)
		rc = STORE_NOTFOUND;
	sq_close(&q);
	/* The numbers belonged to the choice made before. */
	if (rc != STORE_OK ||
	    (rc = conn_numbers_forget_on(my, ws, NULL)) != STORE_OK)
		goto fail;
	if ((rc = sq_commit(db, my)) != STORE_OK)
		return rc;
	store_conn_audit(db, ws, actor, "waba_chosen", waba_id);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_conn_default_on(MYSQL *my, const struct workspace *ws,
    const struct num_row *n)
{
	struct sq	 q;
	char		 sql[1024];
	enum store_rc	 rc;

	/*
	 * A default makes a waiting connection connected (unless a
	 * restriction holds it); none makes it wait. A needs_reconnect for
	 * the token stays: a number proves nothing about the token.
	 */
	snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET "
	    "phone_number_id = ?, display_phone_number = ?, verified_name = ?, "
	    "quality_rating = ?, "
	    "status = IF(? IS NULL, IF(status = 'connected', "
	    "'pending_phone_selection', status), IF(" CONN_RESTRICTED ", "
	    "'needs_reconnect', IF(status = 'pending_phone_selection', "
	    "'connected', status))), "
	    "reason = IF(" CONN_RESTRICTED ", restriction, reason), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = 1 AND token_ct IS NOT NULL",
	    ws->db_name);
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		return rc;
	sq_str(&q, n ? n->id : NULL);
	sq_str(&q, n ? n->display_phone_number : NULL);
	sq_str(&q, n ? n->verified_name : NULL);
	sq_str(&q, n ? n->quality_rating : NULL);
	sq_str(&q, n ? n->id : NULL);
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

enum store_rc
store_conn_mark(struct db *db, const struct workspace *ws,
    const char *status, const char *reason)
{
	char		 sql[256];
	const char	*args[2] = { status, reason };
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET status = ?, "
	    "reason = ?, updated_at = UTC_TIMESTAMP() WHERE id = 1 AND "
	    "token_ct IS NOT NULL", ws->db_name);
	rc = conn_update(db, ws, sql, args, 2);
	if (rc == STORE_OK)
		store_conn_audit(db, ws, "meta", status, reason);
	return rc;
}

enum store_rc
store_conn_verified(struct db *db, const struct workspace *ws,
    int64_t expires_at, const char *scopes, const struct conn_phone *p,
    int *restricted)
{
	struct sq	 q;
	char		 sql[1536];
	enum store_rc	 rc;

	*restricted = 0;
	snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET "
	    "token_expires_at = IF(? = 0, NULL, FROM_UNIXTIME(?)), "
	    "scopes = COALESCE(?, scopes), "
	    "display_phone_number = COALESCE(?, display_phone_number), "
	    "verified_name = COALESCE(?, verified_name), "
	    "quality_rating = COALESCE(?, quality_rating), "
	    "status = IF(" CONN_RESTRICTED ", 'needs_reconnect', "
	    "IF(phone_number_id IS NULL, 'pending_phone_selection', "
	    "'connected')), "
	    "reason = IF(" CONN_RESTRICTED ", restriction, NULL), "
	    "restriction = IF(restriction_until <= UTC_TIMESTAMP(), NULL, "
	    "restriction), "
	    "restriction_event = IF(restriction IS NULL, NULL, "
	    "restriction_event), "
	    "restriction_waba = IF(restriction IS NULL, NULL, "
	    "restriction_waba), "
	    "restriction_until = IF(restriction IS NULL, NULL, "
	    "restriction_until), "
	    "last_verified_at = UTC_TIMESTAMP(), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = 1 AND token_ct IS NOT NULL",
	    ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	sq_int(&q, expires_at);
	sq_int(&q, expires_at);
	sq_str(&q, scopes && *scopes ? scopes : NULL);
	sq_str(&q, p ? p->display_phone_number : NULL);
	sq_str(&q, p ? p->verified_name : NULL);
	sq_str(&q, p ? p->quality_rating : NULL);
	rc = sq_run(&q);
	sq_close(&q);
	if (rc != STORE_OK)
		return rc;
	return store_conn_restricted(db, ws, restricted);
}

enum store_rc
store_conn_restricted(struct db *db, const struct workspace *ws,
    int *restricted)
{
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	*restricted = 0;
	snprintf(sql, sizeof(sql), "SELECT " CONN_RESTRICTED " FROM "
	    "`%s`.connection WHERE id = 1 AND token_ct IS NOT NULL",
	    ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) == STORE_OK && sq_fetch(&q) == 1)
		*restricted = sq_colint(&q, 0) != 0;
	sq_close(&q);
	return rc;
}

enum store_rc
store_conn_disconnect(struct db *db, const struct workspace *ws,
    const char *actor)
{
	struct sq	 q;
	MYSQL		*my;
	char		 sql[1024];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "UPDATE `%s`.connection SET "
	    "status = 'not_connected', reason = NULL, waba_id = NULL, "
	    "waba_ids = NULL, scopes = NULL, token_key_version = NULL, "
	    "token_nonce = NULL, token_ct = NULL, token_expires_at = NULL, "
	    "phone_number_id = NULL, display_phone_number = NULL, "
	    "verified_name = NULL, quality_rating = NULL, connected_at = NULL, "
	    "last_verified_at = NULL, token_stored_at = NULL, "
	    "restriction = NULL, restriction_event = NULL, "
	    "restriction_waba = NULL, restriction_at = NULL, "
	    "restriction_until = NULL, updated_at = UTC_TIMESTAMP() WHERE id = 1",
	    ws->db_name);
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		goto fail;
	rc = sq_run(&q);
	sq_close(&q);
	if (rc != STORE_OK ||
	    (rc = conn_numbers_forget_on(my, ws, NULL)) != STORE_OK)
		goto fail;
	if ((rc = sq_commit(db, my)) != STORE_OK)
		return rc;
	store_conn_audit(db, ws, actor, "disconnected", NULL);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_conn_catalog_save(struct db *db, const struct workspace *ws,
    const char *catalog_id, const char *name, const struct vault_box *b,
    const char *actor)
{
	struct sq	 q;
	char		 sql[512];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "REPLACE INTO `%s`.catalog (id, catalog_id, "
	    "catalog_name, status, reason, token_key_version, token_nonce, "
	    "token_ct, connected_at) VALUES (1, ?, ?, 'connected', NULL, ?, ?, "
	    "?, UTC_TIMESTAMP())", ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	sq_str(&q, catalog_id);
	sq_str(&q, name);
	sq_int(&q, b->key_version);
	sq_bin(&q, b->nonce, VAULT_NONCE_BYTES);
	sq_bin(&q, b->ct, b->ctlen);
	rc = sq_run(&q);
	sq_close(&q);
	if (rc == STORE_OK)
		store_conn_audit(db, ws, actor, "catalog_connected", catalog_id);
	return rc;
}

enum store_rc
store_conn_catalog_mark(struct db *db, const struct workspace *ws,
    const char *reason)
{
	char		 sql[256];
	const char	*args[1] = { reason };

	snprintf(sql, sizeof(sql), "UPDATE `%s`.catalog SET status = "
	    "'needs_reconnect', reason = ? WHERE id = 1", ws->db_name);
	return conn_update(db, ws, sql, args, 1);
}

enum store_rc
store_conn_catalog_delete(struct db *db, const struct workspace *ws,
    const char *actor)
{
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.catalog WHERE id = 1",
	    ws->db_name);
	rc = conn_update(db, ws, sql, NULL, 0);
	if (rc == STORE_OK)
		store_conn_audit(db, ws, actor, "catalog_disconnected", NULL);
	return rc;
}

enum store_rc
store_conn_last_audit(struct db *db, const struct workspace *ws,
    const char *action, char *detail, size_t dlen, char *at, size_t alen)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	*detail = *at = '\0';
	snprintf(sql, sizeof(sql), "SELECT detail, at FROM `%s`.audit_log "
	    "WHERE action = ? ORDER BY id DESC LIMIT 1", ws->db_name);
	if ((rc = sq_open(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	sq_str(&q, action);
	if ((rc = sq_run(&q)) == STORE_OK && sq_fetch(&q) == 1) {
		cp(detail, dlen, sq_col(&q, 0));
		cp(at, alen, sq_col(&q, 1));
	}
	sq_close(&q);
	return rc;
}
