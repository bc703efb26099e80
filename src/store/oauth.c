/*
 * store_oauth_*: the OAuth round trip's state, stored by hash and taken
 * at most once (read and deleted in one transaction, the row locked), so
 * a replayed or raced callback finds nothing (doc/architecture.md, The
 * OAuth round trip).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../config.h"
#include "../db.h"
#include "oauth.h"
#include "sql.h"

enum store_rc
store_oauth_put(struct db *db, const unsigned char hash[32],
    uint64_t workspace, const unsigned char session[32], int ttl)
{
	struct sq	 q;
	char		 sql[256];
	enum store_rc	 rc;

	snprintf(sql, sizeof(sql), "INSERT INTO `%s`.oauth_states "
	    "(state_hash, workspace_id, session_hash, expires_at) VALUES "
	    "(?, ?, ?, UTC_TIMESTAMP() + INTERVAL ? SECOND)",
	    db_config(db)->control_db);
	if ((rc = sq_open(&q, db, NULL, sql)) != STORE_OK)
		return rc;
	sq_bin(&q, hash, 32);
	sq_int(&q, (long long)workspace);
	sq_bin(&q, session, 32);
	sq_int(&q, ttl);
	rc = sq_run(&q);
	sq_close(&q);
	if (rc != STORE_OK)
		return rc;
	/* Abandoned round trips only cost space: prune as we go. */
	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.oauth_states WHERE "
	    "expires_at < UTC_TIMESTAMP() - INTERVAL 1 DAY LIMIT 100",
	    db_config(db)->control_db);
	return sq_exec(db, NULL, sql);
}

enum store_rc
store_oauth_take(struct db *db, const unsigned char hash[32],
    const unsigned char session[32], uint64_t *workspace)
{
	struct sq	 q;
	MYSQL		*my;
	char		 sql[256], stored[32];
	enum store_rc	 rc;
	int		 live = 0, found = 0;

	if ((rc = sq_begin(db, NULL, &my)) != STORE_OK)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT workspace_id, session_hash, "
	    "expires_at > UTC_TIMESTAMP() FROM `%s`.oauth_states WHERE "
	    "state_hash = ? FOR UPDATE", db_config(db)->control_db);
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		goto fail;
	sq_bin(&q, hash, 32);
	if ((rc = sq_run(&q)) == STORE_OK && sq_fetch(&q) == 1 &&
	    sq_collen(&q, 1) == 32) {
		found = 1;
		*workspace = (uint64_t)sq_colint(&q, 0);
		memcpy(stored, sq_col(&q, 1), 32);
		live = sq_colint(&q, 2) != 0;
	}
	sq_close(&q);
	if (rc != STORE_OK)
		goto fail;
	if (!found) {
		sq_rollback(db, my);
		return STORE_NOTFOUND;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM `%s`.oauth_states WHERE "
	    "state_hash = ?", db_config(db)->control_db);
	if ((rc = sq_open_on(&q, my, sql)) != STORE_OK)
		goto fail;
	sq_bin(&q, hash, 32);
	rc = sq_run(&q);
	sq_close(&q);
	if (rc != STORE_OK)
		goto fail;
	if ((rc = sq_commit(db, my)) != STORE_OK)
		return rc;
	/* Another session's state is spent too: it was exposed. */
	if (!live || sodium_memcmp(stored, session, 32) != 0)
		return STORE_NOTFOUND;
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}
