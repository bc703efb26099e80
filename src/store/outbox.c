/*
 * outbox: the outbox rows of one workspace (outbox.h), a table family of
 * its own: enqueued, read and cancelled here, for the API.
 */
#include <stdio.h>
#include <string.h>

#include "../db.h"
#include "outbox.h"
#include "workspaces.h"

/*
 * One message: the INSERT is the client_id's claim (its unique key); a
 * duplicate younger than the TTL is a repeat, an older one is deleted
 * and the insert tried once more. A duplicate within one call (the same
 * client_id twice) is a repeat of the first.
 */
static enum store_rc
outbox_one(MYSQL *my, const struct workspace *ws, struct outbox_new *m)
{
	struct sq     q;
	enum store_rc rc;
	int           again;
	long long     age;

	m->repeat = 0;
	for (again = 0; again < 2; again++) {
		rc = sq_rows_on(&q, my,
		    SQ_ARGS(SQ_S(m->client_id), SQ_S(m->phone_number_id),
		        SQ_S(m->to), SQ_S(m->body)),
		    "INSERT INTO `%s`.outbox (client_id, phone_number_id, "
		    "to_addr, body, state, not_before, created_at, updated_at) "
		    "VALUES (?, ?, ?, ?, 'queued', UTC_TIMESTAMP(3), "
		    "UTC_TIMESTAMP(), UTC_TIMESTAMP(3))",
		    ws->db_name);
		if (rc == STORE_OK) {
			m->id = sq_insert_id(&q);
			sq_close(&q);
			return STORE_OK;
		}
		if (rc != STORE_DUP)
			return rc;
		if ((rc = sq_one_on(&q, my, SQ_ARGS(SQ_S(m->client_id)),
		         "SELECT id, TIMESTAMPDIFF(SECOND, created_at, "
		         "UTC_TIMESTAMP()) FROM `%s`.outbox WHERE client_id = ? "
		         "FOR UPDATE",
		         ws->db_name)) == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK)
			return rc;
		m->id = (uint64_t)sq_colint(&q, 0);
		age = sq_colint(&q, 1);
		sq_close(&q);
		if (age < OUTBOX_CLIENT_TTL_S) {
			m->repeat = 1;
			return STORE_OK;
		}
		if ((rc = sq_do_on(my, SQ_ARGS(SQ_I((long long)m->id)),
		         "DELETE FROM `%s`.outbox WHERE id = ?",
		         ws->db_name)) != STORE_OK)
			return rc;
	}
	return STORE_ERR;
}

enum store_rc
store_outbox_enqueue(struct db *db, const struct workspace *ws,
    struct outbox_new *m, size_t n)
{
	MYSQL        *my;
	enum store_rc rc;
	size_t        i;

	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = outbox_one(my, ws, &m[i])) != STORE_OK)
			goto fail;
	return sq_commit(db, my);
fail:
	sq_rollback(db, my);
	return rc;
}

static void
outbox_copy(char *dst, size_t size, const struct sq *q, unsigned col)
{
	size_t n = sq_col(q, col) != NULL ? sq_collen(q, col) : 0;

	if (n >= size)
		n = size - 1;
	memcpy(dst, n ? sq_col(q, col) : "", n);
	dst[n] = '\0';
}

static void
outbox_fill(const struct sq *q, struct outbox_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = (uint64_t)sq_colint(q, 0);
	outbox_copy(r->client_id, sizeof(r->client_id), q, 1);
	outbox_copy(r->state, sizeof(r->state), q, 2);
	outbox_copy(r->message_id, sizeof(r->message_id), q, 3);
	outbox_copy(r->error, sizeof(r->error), q, 4);
	r->attempts = (unsigned)sq_colint(q, 5);
	outbox_copy(r->updated_at, sizeof(r->updated_at), q, 6);
}

#define OUTBOX_COLS \
	"id, client_id, state, message_id, error, attempts, " \
	"DATE_FORMAT(updated_at, '%%Y-%%m-%%dT%%H:%%i:%%sZ')"

enum store_rc
store_outbox_get(struct db *db, const struct workspace *ws, uint64_t id,
    struct outbox_row *r)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_I((long long)id)),
	         "SELECT " OUTBOX_COLS " FROM `%s`.outbox WHERE id = ?",
	         ws->db_name)) != STORE_OK)
		return rc;
	outbox_fill(&q, r);
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_outbox_cancel(struct db *db, const struct workspace *ws, uint64_t id,
    struct outbox_row *r)
{
	struct sq     q;
	MYSQL        *my;
	enum store_rc rc;

	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	/* The lock keeps a sender from claiming it in between. */
	if ((rc = sq_one_on(&q, my, SQ_ARGS(SQ_I((long long)id)),
	         "SELECT " OUTBOX_COLS " FROM `%s`.outbox WHERE id = ? FOR "
	         "UPDATE",
	         ws->db_name)) != STORE_OK)
		goto fail;
	outbox_fill(&q, r);
	sq_close(&q);
	if (strcmp(r->state, "queued") != 0) {
		rc = STORE_DUP;
		goto fail;
	}
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_I((long long)id)),
	         "DELETE FROM `%s`.outbox WHERE id = ?", ws->db_name)) !=
	    STORE_OK)
		goto fail;
	return sq_commit(db, my);
fail:
	sq_rollback(db, my);
	return rc;
}

/* Each count an index range of (state, updated_at): no table scan. */
enum store_rc
store_outbox_glance(struct db *db, const struct workspace *ws,
    struct outbox_glance *g)
{
	struct sq     q;
	enum store_rc rc;

	memset(g, 0, sizeof(*g));
	if ((rc = sq_one(&q, db, &ws->srv, NULL,
	         "SELECT (SELECT COUNT(*) FROM `%1$s`.outbox WHERE state = "
	         "'queued'), (SELECT COUNT(*) FROM `%1$s`.outbox WHERE state = "
	         "'sending'), (SELECT COUNT(*) FROM `%1$s`.outbox WHERE state "
	         "= 'paused'), (SELECT COUNT(*) FROM `%1$s`.outbox WHERE state "
	         "= 'sent' AND updated_at >= UTC_TIMESTAMP(3) - INTERVAL 1 "
	         "HOUR), (SELECT COUNT(*) FROM `%1$s`.outbox WHERE state = "
	         "'failed' AND updated_at >= UTC_TIMESTAMP(3) - INTERVAL 1 "
	         "HOUR), (SELECT COUNT(*) FROM `%1$s`.outbox WHERE state = "
	         "'unknown' AND updated_at >= UTC_TIMESTAMP(3) - INTERVAL 1 "
	         "HOUR)",
	         ws->db_name)) != STORE_OK)
		return rc;
	g->queued = sq_colint(&q, 0);
	g->sending = sq_colint(&q, 1);
	g->paused = sq_colint(&q, 2);
	g->sent_1h = sq_colint(&q, 3);
	g->failed_1h = sq_colint(&q, 4);
	g->unknown_1h = sq_colint(&q, 5);
	sq_close(&q);
	return STORE_OK;
}
