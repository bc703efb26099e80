/*
 * idempotency: the api_idempotency rows of one workspace (idempotency.h),
 * a table family of its own: claimed, finished, released and pruned here
 * and nowhere else.
 */
#include <stdlib.h>
#include <string.h>

#include "../db.h"
#include "idempotency.h"
#include "workspaces.h"

void
idem_row_free(struct idem_row *r)
{
	free(r->body);
	r->body = NULL;
}

static enum store_rc
idem_insert(struct db *db, const struct workspace *ws, const char *key,
    const unsigned char hash[IDEM_HASH])
{
	return sq_do(db, &ws->srv, SQ_ARGS(SQ_S(key), SQ_B(hash, IDEM_HASH)),
	    "INSERT INTO `%s`.api_idempotency (idem_key, request_hash, "
	    "state, created_at) VALUES (?, ?, 'running', UTC_TIMESTAMP())",
	    ws->db_name);
}

static enum store_rc
idem_read(struct db *db, const struct workspace *ws, const char *key,
    struct idem_row *row)
{
	struct sq     q;
	enum store_rc rc;
	size_t        n;

	memset(row, 0, sizeof(*row));
	if ((rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_S(key)),
	         "SELECT request_hash, state = 'done', http_status, body, "
	         "TIMESTAMPDIFF(SECOND, created_at, UTC_TIMESTAMP()) FROM "
	         "`%s`.api_idempotency WHERE idem_key = ?",
	         ws->db_name)) != STORE_OK)
		return rc;
	if (sq_col(&q, 0) != NULL && sq_collen(&q, 0) == IDEM_HASH)
		memcpy(row->hash, sq_col(&q, 0), IDEM_HASH);
	row->done = sq_colint(&q, 1) != 0;
	row->status = (int)sq_colint(&q, 2);
	row->age_s = sq_colint(&q, 4);
	n = sq_col(&q, 3) != NULL ? sq_collen(&q, 3) : 0;
	if (row->done && (row->body = malloc(n + 1)) == NULL) {
		sq_close(&q);
		return STORE_ERR;
	}
	if (row->body != NULL) {
		memcpy(row->body, n ? sq_col(&q, 3) : "", n);
		row->body[n] = '\0';
	}
	sq_close(&q);
	return STORE_OK;
}

/*
 * The first request's INSERT is the whole claim: the primary key makes
 * two at once impossible, and autocommit keeps the row lock as short as
 * the statement. A row past its 24 h is deleted by age (so a claim made
 * in between by another request stays) and the insert tried once more.
 */
enum store_rc
store_idem_claim(struct db *db, const struct workspace *ws, const char *key,
    const unsigned char hash[IDEM_HASH], struct idem_row *row)
{
	enum store_rc rc;
	int           again;

	memset(row, 0, sizeof(*row));
	for (again = 0; again < 2; again++) {
		if ((rc = idem_insert(db, ws, key, hash)) != STORE_DUP)
			return rc;
		rc = idem_read(db, ws, key, row);
		if (rc == STORE_NOTFOUND)
			continue; /* released in between: claim it */
		if (rc != STORE_OK)
			return rc;
		if (row->age_s < IDEM_TTL_S)
			return STORE_DUP;
		idem_row_free(row);
		if ((rc = sq_do(db, &ws->srv,
		         SQ_ARGS(SQ_S(key), SQ_I(IDEM_TTL_S)),
		         "DELETE FROM `%s`.api_idempotency WHERE idem_key = ? "
		         "AND created_at <= UTC_TIMESTAMP() - INTERVAL ? SECOND",
		         ws->db_name)) != STORE_OK)
			return rc;
	}
	/* Claimed and released, or renewed, twice over: someone holds it. */
	return idem_read(db, ws, key, row) == STORE_OK ? STORE_DUP : STORE_ERR;
}

enum store_rc
store_idem_finish(struct db *db, const struct workspace *ws, const char *key,
    int status, const char *body, size_t len)
{
	return sq_do(db, &ws->srv,
	    SQ_ARGS(SQ_I(status), SQ_B(body, len > IDEM_BODY_MAX ? 0 : len),
	        SQ_S(key)),
	    "UPDATE `%s`.api_idempotency SET state = 'done', http_status = ?, "
	    "body = ?, finished_at = UTC_TIMESTAMP() WHERE idem_key = ? AND "
	    "state = 'running'",
	    ws->db_name);
}

enum store_rc
store_idem_release(struct db *db, const struct workspace *ws, const char *key)
{
	return sq_do(db, &ws->srv, SQ_ARGS(SQ_S(key)),
	    "DELETE FROM `%s`.api_idempotency WHERE idem_key = ? AND state = "
	    "'running'",
	    ws->db_name);
}

enum store_rc
store_idem_prune(struct db *db, const struct workspace *ws, unsigned batch,
    unsigned long long *deleted)
{
	struct sq     q;
	enum store_rc rc;
	uint64_t      n;

	*deleted = 0;
	do {
		if ((rc = sq_rows(&q, db, &ws->srv,
		         SQ_ARGS(SQ_I(IDEM_TTL_S), SQ_I(batch)),
		         "DELETE FROM `%s`.api_idempotency WHERE created_at <= "
		         "UTC_TIMESTAMP() - INTERVAL ? SECOND LIMIT ?",
		         ws->db_name)) != STORE_OK)
			return rc;
		n = sq_affected(&q);
		sq_close(&q);
		*deleted += n;
	} while (n == batch && batch > 0);
	return STORE_OK;
}
