/*
 * outbox: the outbox rows of one workspace (outbox.h), a table family of
 * its own: enqueued, read and cancelled here, for the API; counted for
 * status --json and the settings page's Outbox card.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

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

/*
 * One capped count of store_outbox_page_col, appended at buf + *used: a
 * probe for the row after the cap (one index range, OUTBOX_PAGE_CAP
 * entries at most), and the COUNT only when there is none, which IF
 * evaluates only then. Both read the statement's one snapshot.
 */
static int
outbox_capped(char *buf, size_t len, size_t *used, const char *db,
    const char *key, const char *state, int last_hour)
{
	const char *w = last_hour
	    ? " AND updated_at >= UTC_TIMESTAMP(3) - INTERVAL 1 HOUR"
	    : "";
	int         n;

	n = snprintf(buf + *used, len - *used,
	    "'%s', IF((SELECT 1 FROM `%s`.outbox WHERE state = '%s'%s LIMIT 1 "
	    "OFFSET %d) IS NULL, (SELECT COUNT(*) FROM `%s`.outbox WHERE "
	    "state = '%s'%s), %d), ",
	    key, db, state, w, OUTBOX_PAGE_CAP, db, state, w,
	    OUTBOX_PAGE_CAP + 1);
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

/*
 * The counts as status --json's (store_outbox_glance), capped, and two
 * ages: MIN(not_before) of the queued rows and MIN(updated_at) of the
 * paused ones, each the first entry of its index (outbox_claim,
 * outbox_updated), however long the queue.
 */
int
store_outbox_page_col(char *buf, size_t len, const struct workspace *ws)
{
	static const struct {
		const char *key, *state;
		int         last_hour;
	} c[] = {
		{ "queued", "queued", 0 },
		{ "sending", "sending", 0 },
		{ "paused", "paused", 0 },
		{ "sent", "sent", 1 },
		{ "failed", "failed", 1 },
		{ "unknown", "unknown", 1 },
	};
	size_t used, i;
	int    n;

	if ((n = snprintf(buf, len, "JSON_OBJECT(")) < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (outbox_capped(buf, len, &used, ws->db_name, c[i].key,
		        c[i].state, c[i].last_hour) == -1)
			return -1;
	n = snprintf(buf + used, len - used,
	    "'wait_s', (SELECT GREATEST(0, TIMESTAMPDIFF(SECOND, "
	    "MIN(not_before), UTC_TIMESTAMP(3))) FROM `%1$s`.outbox WHERE "
	    "state = 'queued'), 'paused_s', (SELECT TIMESTAMPDIFF(SECOND, "
	    "MIN(updated_at), UTC_TIMESTAMP(3)) FROM `%1$s`.outbox WHERE "
	    "state = 'paused'))",
	    ws->db_name);
	return n < 0 || (size_t)n >= len - used ? -1 : 0;
}

/*
 * The column's object: every member there, each an integer; an age may
 * also be null (nothing queued, nothing paused): -1.
 */
int
store_outbox_page_from(const char *json, struct outbox_page *p)
{
	const struct {
		const char *key;
		long long  *dst;
		int         age;
	} m[] = {
		{ "queued", &p->g.queued, 0 },
		{ "sending", &p->g.sending, 0 },
		{ "paused", &p->g.paused, 0 },
		{ "sent", &p->g.sent_1h, 0 },
		{ "failed", &p->g.failed_1h, 0 },
		{ "unknown", &p->g.unknown_1h, 0 },
		{ "wait_s", &p->wait_s, 1 },
		{ "paused_s", &p->paused_s, 1 },
	};
	struct json_object *o = NULL, *v;
	size_t              i;
	int                 rc = -1;

	memset(p, 0, sizeof(*p));
	if (json == NULL || (o = json_tokener_parse(json)) == NULL)
		goto out;
	if (!json_object_is_type(o, json_type_object))
		goto out;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (!json_object_object_get_ex(o, m[i].key, &v))
			goto out;
		if (v == NULL && m[i].age)
			*m[i].dst = -1;
		else if (json_object_is_type(v, json_type_int))
			*m[i].dst = json_object_get_int64(v);
		else
			goto out;
	}
	rc = 0;
out:
	json_object_put(o);
	if (rc == -1) {
		memset(p, 0, sizeof(*p));
		p->wait_s = p->paused_s = -1;
	}
	return rc;
}
