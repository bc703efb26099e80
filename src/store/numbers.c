/*
 * numbers: the workspace's phone numbers, one row each in phone_numbers,
 * and which of them is the default sender. Every change that moves the
 * default runs in one transaction with the connection row's mirror of
 * it (store_conn_default_on), so the two never disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db.h"
#include "../vault.h"
#include "connection.h"
#include "numbers.h"
#include "sql.h"
#include "workspaces.h"

#define NUM_COLS \
	"id, waba_id, display_phone_number, verified_name, " \
	"quality_rating, status, code_verification_status, messaging_limit, " \
	"state, state_detail, retry_after, is_default, coexistence, " \
	"synced_state_at, synced_history_at, added_at"

static void
num_cp(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

void
store_num_from_row(const struct sq *q, unsigned int i, struct num_row *r)
{
	memset(r, 0, sizeof(*r));
	num_cp(r->id, sizeof(r->id), sq_col(q, i));
	num_cp(r->waba_id, sizeof(r->waba_id), sq_col(q, i + 1));
	num_cp(r->display_phone_number, sizeof(r->display_phone_number),
	    sq_col(q, i + 2));
	num_cp(r->verified_name, sizeof(r->verified_name), sq_col(q, i + 3));
	num_cp(r->quality_rating, sizeof(r->quality_rating), sq_col(q, i + 4));
	num_cp(r->status, sizeof(r->status), sq_col(q, i + 5));
	num_cp(r->code_verification_status, sizeof(r->code_verification_status),
	    sq_col(q, i + 6));
	num_cp(r->messaging_limit, sizeof(r->messaging_limit),
	    sq_col(q, i + 7));
	num_cp(r->state, sizeof(r->state), sq_col(q, i + 8));
	num_cp(r->state_detail, sizeof(r->state_detail), sq_col(q, i + 9));
	num_cp(r->retry_after, sizeof(r->retry_after), sq_col(q, i + 10));
	r->is_default = sq_colint(q, i + 11) != 0;
	r->coexistence = sq_colint(q, i + 12) != 0;
	r->max_mps = r->coexistence ? NUM_COEX_MPS : 0;
	num_cp(r->synced_state_at, sizeof(r->synced_state_at),
	    sq_col(q, i + 13));
	num_cp(r->synced_history_at, sizeof(r->synced_history_at),
	    sq_col(q, i + 14));
	num_cp(r->added_at, sizeof(r->added_at), sq_col(q, i + 15));
}

static void
num_from_row(const struct sq *q, struct num_row *r)
{
	store_num_from_row(q, 0, r);
}

int
store_num_cols(char *buf, size_t len, const char *alias)
{
	static const char *const cols[NUM_NCOLS] = { "id", "waba_id",
		"display_phone_number", "verified_name", "quality_rating",
		"status", "code_verification_status", "messaging_limit",
		"state", "state_detail", "retry_after", "is_default",
		"coexistence", "synced_state_at", "synced_history_at",
		"added_at" };
	size_t                   used = 0, i;
	int                      n;

	for (i = 0; i < NUM_NCOLS; i++) {
		n = snprintf(buf + used, len - used, "%s%s.%s", i ? ", " : "",
		    alias, cols[i]);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

enum store_rc
store_num_list(struct db *db, const struct workspace *ws, struct num_row **list,
    size_t *n)
{
	struct sq       q;
	struct num_row *l = NULL, *nl;
	size_t          cnt = 0;
	enum store_rc   rc;
	int             f;

	*list = NULL;
	*n = 0;
	if ((rc = sq_rows(&q, db, &ws->srv, NULL,
	         "SELECT " NUM_COLS " FROM "
	         "`%s`.phone_numbers ORDER BY is_default DESC, added_at, id",
	         ws->db_name)) != STORE_OK)
		return rc;
	while ((f = sq_fetch(&q)) == 1) {
		if ((nl = realloc(l, (cnt + 1) * sizeof(*l))) == NULL) {
			rc = STORE_ERR;
			goto out;
		}
		l = nl;
		num_from_row(&q, &l[cnt++]);
	}
	if (f == -1)
		rc = STORE_ERR;
out:
	sq_close(&q);
	if (rc != STORE_OK) {
		free(l);
		return rc;
	}
	*list = l;
	*n = cnt;
	return STORE_OK;
}

enum store_rc
store_num_get(struct db *db, const struct workspace *ws, const char *id,
    struct num_row *r)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_S(id)),
	         "SELECT " NUM_COLS " FROM `%s`.phone_numbers WHERE id = ?",
	         ws->db_name)) != STORE_OK)
		return rc;
	num_from_row(&q, r);
	sq_close(&q);
	return STORE_OK;
}

/*
 * With no default left, the oldest active number becomes it (none: the
 * connection waits for one); the connection row mirrors the outcome.
 * Runs inside the transaction on my.
 */
static enum store_rc
num_settle_default(MYSQL *my, const struct workspace *ws, int *made)
{
	struct sq      q;
	struct num_row r;
	enum store_rc  rc;

	if (made != NULL)
		*made = 0;
	rc = sq_one_on(&q, my, NULL,
	    "SELECT " NUM_COLS " FROM "
	    "`%s`.phone_numbers WHERE is_default = 1 OR state = 'active' "
	    "ORDER BY is_default DESC, added_at, id LIMIT 1 FOR UPDATE",
	    ws->db_name);
	if (rc == STORE_NOTFOUND)
		return store_conn_default_on(my, ws, NULL);
	if (rc != STORE_OK)
		return rc;
	num_from_row(&q, &r);
	sq_close(&q);
	if (!r.is_default) {
		if ((rc = sq_do_on(my, SQ_ARGS(SQ_S(r.id)),
		         "UPDATE "
		         "`%s`.phone_numbers SET is_default = 1 WHERE id = ?",
		         ws->db_name)) != STORE_OK)
			return rc;
		r.is_default = 1;
		if (made != NULL)
			*made = 1;
	}
	return store_conn_default_on(my, ws, &r);
}

enum store_rc
store_num_put(struct db *db, const struct workspace *ws,
    const struct num_add *a, const char *actor, int *made_default)
{
	MYSQL        *my;
	enum store_rc rc;

	*made_default = 0;
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	/*
	 * Adding again keeps whether it is the default and the syncs that
	 * ran: those are facts about the number, not about this attempt.
	 */
	if ((rc = sq_do_on(my,
	         SQ_ARGS(SQ_S(a->id), SQ_S(a->waba_id),
	             SQ_S(a->display_phone_number ? a->display_phone_number
	                                          : ""),
	             SQ_S(a->verified_name), SQ_S(a->quality_rating),
	             SQ_S(a->status), SQ_S(a->code_verification_status),
	             SQ_S(a->messaging_limit), SQ_S(a->state),
	             SQ_S(a->state_detail), SQ_I(a->retry_seconds),
	             SQ_I(a->retry_seconds), SQ_I(a->coexistence),
	             a->pin ? SQ_I(a->pin->key_version) : SQ_NULL,
	             a->pin ? SQ_B(a->pin->nonce, VAULT_NONCE_BYTES) : SQ_NULL,
	             a->pin ? SQ_B(a->pin->ct, a->pin->ctlen) : SQ_NULL),
	         "INSERT INTO `%s`.phone_numbers (id, "
	         "waba_id, display_phone_number, verified_name, quality_rating, "
	         "status, code_verification_status, messaging_limit, state, "
	         "state_detail, retry_after, coexistence, pin_key_version, "
	         "pin_nonce, pin_ct, fetched_at, added_at) "
	         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? = 0, NULL, "
	         "UTC_TIMESTAMP() + INTERVAL ? SECOND), ?, ?, ?, ?, "
	         "UTC_TIMESTAMP(), UTC_TIMESTAMP()) ON DUPLICATE KEY UPDATE "
	         "pin_key_version = VALUES(pin_key_version), pin_nonce = "
	         "VALUES(pin_nonce), pin_ct = VALUES(pin_ct), waba_id = "
	         "VALUES(waba_id), display_phone_number = "
	         "VALUES(display_phone_number), verified_name = "
	         "VALUES(verified_name), quality_rating = VALUES(quality_rating), "
	         "status = VALUES(status), code_verification_status = "
	         "VALUES(code_verification_status), messaging_limit = "
	         "VALUES(messaging_limit), state = VALUES(state), state_detail = "
	         "VALUES(state_detail), retry_after = VALUES(retry_after), "
	         "coexistence = VALUES(coexistence), fetched_at = "
	         "VALUES(fetched_at)",
	         ws->db_name)) != STORE_OK)
		goto fail;
	/* A default that stopped being active is no default any more. */
	if (strcmp(a->state, NUM_ACTIVE) != 0 &&
	    (rc = sq_do_on(my, SQ_ARGS(SQ_S(a->id)),
	         "UPDATE "
	         "`%s`.phone_numbers SET is_default = 0 WHERE id = ?",
	         ws->db_name)) != STORE_OK)
		goto fail;
	if ((rc = num_settle_default(my, ws, made_default)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
		return rc;
	store_conn_audit(db, ws, actor,
	    strcmp(a->state, NUM_ACTIVE) == 0 ? "phone_added" : "phone_pending",
	    a->id);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_num_refresh(struct db *db, const struct workspace *ws,
    const struct num_add *a)
{
	MYSQL        *my;
	enum store_rc rc;

	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	rc = sq_do_on(my,
	    SQ_ARGS(SQ_S(a->display_phone_number), SQ_S(a->verified_name),
	        SQ_S(a->quality_rating), SQ_S(a->status),
	        SQ_S(a->code_verification_status), SQ_S(a->messaging_limit),
	        SQ_I(a->coexistence), SQ_S(a->id)),
	    "UPDATE `%s`.phone_numbers SET "
	    "display_phone_number = COALESCE(?, display_phone_number), "
	    "verified_name = ?, quality_rating = ?, status = ?, "
	    "code_verification_status = ?, messaging_limit = ?, "
	    "coexistence = ?, fetched_at = UTC_TIMESTAMP() WHERE id = ?",
	    ws->db_name);
	if (rc != STORE_OK ||
	    (rc = num_settle_default(my, ws, NULL)) != STORE_OK)
		goto fail;
	return store_conn_commit(db, my, ws);
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_num_default(struct db *db, const struct workspace *ws, const char *id,
    const char *actor)
{
	struct sq      q;
	struct num_row r;
	MYSQL         *my;
	enum store_rc  rc;

	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	/* Only a registered number can send, so only it can be the default. */
	if ((rc = sq_one_on(&q, my, SQ_ARGS(SQ_S(id)),
	         "SELECT " NUM_COLS
	         " FROM `%s`.phone_numbers WHERE id = ? AND state = 'active' FOR "
	         "UPDATE",
	         ws->db_name)) != STORE_OK)
		goto fail;
	num_from_row(&q, &r);
	sq_close(&q);
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_S(id)),
	         "UPDATE "
	         "`%s`.phone_numbers SET is_default = (id = ?)",
	         ws->db_name)) != STORE_OK ||
	    (rc = store_conn_default_on(my, ws, &r)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
		return rc;
	store_conn_audit(db, ws, actor, "phone_default", id);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_num_remove(struct db *db, const struct workspace *ws, const char *id,
    const char *actor)
{
	struct sq     q;
	MYSQL        *my;
	uint64_t      hit = 0;
	enum store_rc rc;

	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = sq_rows_on(&q, my, SQ_ARGS(SQ_S(id)),
	         "DELETE FROM "
	         "`%s`.phone_numbers WHERE id = ?",
	         ws->db_name)) != STORE_OK)
		goto fail;
	hit = sq_affected(&q);
	sq_close(&q);
	if (hit == 0) {
		sq_rollback(db, my);
		return STORE_NOTFOUND;
	}
	if ((rc = num_settle_default(my, ws, NULL)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
		return rc;
	store_conn_audit(db, ws, actor, "phone_removed", id);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_num_ids(struct db *db, const struct workspace *ws, char *ids, size_t len)
{
	struct sq     q;
	size_t        used = 0, n;
	const char   *id;
	enum store_rc rc;

	*ids = '\0';
	if ((rc = sq_rows(&q, db, &ws->srv, NULL,
	         "SELECT id FROM "
	         "`%s`.phone_numbers ORDER BY id",
	         ws->db_name)) != STORE_OK)
		return rc;
	while (sq_fetch(&q) == 1) {
		if ((id = sq_col(&q, 0)) == NULL)
			continue;
		n = strlen(id);
		if (used + n + 2 > len) {
			rc = STORE_ERR;
			break;
		}
		if (used > 0)
			ids[used++] = ',';
		memcpy(ids + used, id, n + 1);
		used += n;
	}
	sq_close(&q);
	return rc;
}

enum store_rc
store_num_synced(struct db *db, const struct workspace *ws, const char *id,
    const char *sync_type, const char *actor)
{
	struct sq     q;
	char          detail[128];
	const char   *col;
	enum store_rc rc;

	if (strcmp(sync_type, NUM_SYNC_STATE) == 0)
		col = "synced_state_at";
	else if (strcmp(sync_type, NUM_SYNC_HISTORY) == 0)
		col = "synced_history_at";
	else
		return STORE_ERR;
	/* Meta lets each sync run once: so does the row. */
	if ((rc = sq_rows(&q, db, &ws->srv, SQ_ARGS(SQ_S(id)),
	         "UPDATE "
	         "`%s`.phone_numbers SET %s = UTC_TIMESTAMP() WHERE id = ? AND "
	         "%s IS NULL",
	         ws->db_name, col, col)) != STORE_OK)
		return rc;
	if (sq_affected(&q) == 0)
		rc = STORE_DUP;
	sq_close(&q);
	if (rc == STORE_OK) {
		snprintf(detail, sizeof(detail), "%s for %s", sync_type, id);
		store_conn_audit(db, ws, actor, "coexistence_sync", detail);
	}
	return rc;
}

enum store_rc
store_num_pin(struct db *db, const struct workspace *ws, const char *id,
    struct vault_box *b)
{
	struct sq     q;
	enum store_rc rc;

	memset(b, 0, sizeof(*b));
	if ((rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_S(id)),
	         "SELECT "
	         "pin_key_version, pin_nonce, pin_ct FROM `%s`.phone_numbers WHERE "
	         "id = ? AND pin_ct IS NOT NULL",
	         ws->db_name)) != STORE_OK)
		return rc;
	if (store_conn_box_from_row(&q, 0, b) == -1)
		rc = STORE_ERR;
	sq_close(&q);
	return rc;
}

enum store_rc
store_num_rekey_on(MYSQL *my, const struct workspace *ws, const struct vault *v,
    int *changed, char *err, size_t errlen)
{
	struct sq         q;
	struct vault_box *in = NULL, *nb, out;
	char(*ids)[33] = NULL, (*ni)[33];
	size_t        n = 0, i;
	enum store_rc rc;

	if ((rc = sq_rows_on(&q, my, NULL,
	         "SELECT id, pin_key_version, "
	         "pin_nonce, pin_ct FROM `%s`.phone_numbers WHERE pin_ct IS NOT "
	         "NULL FOR UPDATE",
	         ws->db_name)) != STORE_OK)
		return rc;
	while (sq_fetch(&q) == 1) {
		if ((nb = realloc(in, (n + 1) * sizeof(*in))) == NULL) {
			rc = STORE_ERR;
			break;
		}
		in = nb;
		if ((ni = realloc(ids, (n + 1) * sizeof(*ids))) == NULL) {
			rc = STORE_ERR;
			break;
		}
		ids = ni;
		snprintf(ids[n], sizeof(ids[n]), "%s",
		    sq_col(&q, 0) ? sq_col(&q, 0) : "");
		if (store_conn_box_from_row(&q, 1, &in[n]) == -1) {
			rc = STORE_ERR;
			break;
		}
		n++;
	}
	sq_close(&q);
	for (i = 0; rc == STORE_OK && i < n; i++) {
		/* A damaged box is reported by the vault, with its workspace. */
		if (!in[i].damaged &&
		    in[i].key_version == vault_current_version(v))
			continue;
		if (vault_reencrypt(v, ws->id, VAULT_KIND_PIN, &in[i], &out,
		        err, errlen) == -1) {
			rc = STORE_ERR;
			break;
		}
		rc = sq_do_on(my,
		    SQ_ARGS(SQ_I(out.key_version),
		        SQ_B(out.nonce, VAULT_NONCE_BYTES),
		        SQ_B(out.ct, out.ctlen), SQ_S(ids[i])),
		    "UPDATE `%s`.phone_numbers SET "
		    "pin_key_version = ?, pin_nonce = ?, pin_ct = ? WHERE "
		    "id = ?",
		    ws->db_name);
		vault_box_free(&out);
		if (rc == STORE_OK)
			(*changed)++;
	}
	for (i = 0; i < n; i++)
		vault_box_free(&in[i]);
	free(in);
	free(ids);
	return rc;
}
