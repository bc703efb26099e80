/*
 * store_oauth_*: the OAuth round trip's state, stored by hash and taken
 * at most once (read and deleted in one transaction, the row locked), so
 * a replayed or raced callback finds nothing (doc/architecture.md, The
 * OAuth round trip).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../db.h"
#include "oauth.h"
#include "sql.h"

enum store_rc
store_oauth_put(struct db *db, const unsigned char hash[32], uint64_t workspace,
    const unsigned char session[32], int ttl)
{
	enum store_rc rc;

	if ((rc = sq_do(db, NULL,
	         SQ_ARGS(SQ_B(hash, 32), SQ_I(workspace), SQ_B(session, 32),
	             SQ_I(ttl)),
	         "INSERT INTO `%s`.oauth_states "
	         "(state_hash, workspace_id, session_hash, expires_at) VALUES "
	         "(?, ?, ?, UTC_TIMESTAMP() + INTERVAL ? SECOND)",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	/* Abandoned round trips only cost space: prune as we go. */
	return sq_do(db, NULL, NULL,
	    "DELETE FROM `%s`.oauth_states WHERE "
	    "expires_at < UTC_TIMESTAMP() - INTERVAL 1 DAY LIMIT 100",
	    sq_ctl(db));
}

enum store_rc
store_oauth_take(struct db *db, const unsigned char hash[32],
    const unsigned char session[32], uint64_t *workspace)
{
	struct sq     q;
	MYSQL        *my;
	char          stored[32];
	enum store_rc rc;
	int           live = 0, found;

	if ((rc = sq_begin(db, NULL, &my)) != STORE_OK)
		return rc;
	rc = sq_one_on(&q, my, SQ_ARGS(SQ_B(hash, 32)),
	    "SELECT workspace_id, "
	    "session_hash, expires_at > UTC_TIMESTAMP() FROM `%s`.oauth_states "
	    "WHERE state_hash = ? FOR UPDATE",
	    sq_ctl(db));
	if (rc == STORE_NOTFOUND) {
		sq_rollback(db, my);
		return STORE_NOTFOUND;
	}
	if (rc != STORE_OK)
		goto fail;
	/* A row whose session hash is not 32 bytes is taken as none. */
	if ((found = sq_collen(&q, 1) == 32)) {
		*workspace = (uint64_t)sq_colint(&q, 0);
		memcpy(stored, sq_col(&q, 1), 32);
		live = sq_colint(&q, 2) != 0;
	}
	sq_close(&q);
	if (!found) {
		sq_rollback(db, my);
		return STORE_NOTFOUND;
	}
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_B(hash, 32)),
	         "DELETE FROM "
	         "`%s`.oauth_states WHERE state_hash = ?",
	         sq_ctl(db))) != STORE_OK)
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
