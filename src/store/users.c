/*
 * users: sign-in accounts and memberships, in the control database.
 * Password hashes are stored and compared elsewhere (handlers/auth.c);
 * this module only moves them.
 */
#include <stdio.h>
#include <string.h>

#include "../db.h"
#include "sql.h"
#include "users.h"
#include "workspaces.h"

enum store_rc
store_user_by_email(struct db *db, const char *email, struct user *u,
    char *hash, size_t hashlen)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_S(email)),
	         "SELECT id, "
	         "email, password_hash FROM `%s`.users WHERE email = ?",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	u->id = (uint64_t)sq_colint(&q, 0);
	snprintf(u->email, sizeof(u->email), "%s", sq_col(&q, 1));
	if (hash)
		snprintf(hash, hashlen, "%s", sq_col(&q, 2));
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_user_add(struct db *db, const char *email, const char *hash, uint64_t *id)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_rows(&q, db, NULL, SQ_ARGS(SQ_S(email), SQ_S(hash)),
	         "INSERT INTO `%s`.users (email, password_hash) VALUES (?, ?)",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	*id = sq_insert_id(&q);
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_user_member_add(struct db *db, uint64_t user, uint64_t workspace)
{
	return sq_do(db, NULL, SQ_ARGS(SQ_I(user), SQ_I(workspace)),
	    "INSERT IGNORE INTO `%s`.memberships (user_id, workspace_id) "
	    "VALUES (?, ?)",
	    sq_ctl(db));
}

enum store_rc
store_user_is_member(struct db *db, uint64_t user, uint64_t workspace)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_I(user), SQ_I(workspace)),
	         "SELECT 1 FROM `%s`.memberships WHERE user_id = ? AND "
	         "workspace_id = ?",
	         sq_ctl(db))) == STORE_OK)
		sq_close(&q);
	return rc;
}

/*
 * By the lowest workspace id among the user's memberships; the columns
 * are the workspaces table's own, read as workspaces.c reads them (which
 * checks the database name too).
 */
enum store_rc
store_user_first_ws(struct db *db, uint64_t user, struct workspace *ws)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, NULL, SQ_ARGS(SQ_I(user)),
	         "SELECT " STORE_WS_COLS
	         " FROM `%1$s`.workspaces WHERE db_name IS NOT NULL "
	         "AND id IN (SELECT workspace_id FROM `%1$s`.memberships WHERE "
	         "user_id = ?) ORDER BY id LIMIT 1",
	         sq_ctl(db))) != STORE_OK)
		return rc;
	rc = store_ws_from_row(&q, ws);
	sq_close(&q);
	return rc;
}
