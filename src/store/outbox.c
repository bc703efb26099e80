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

/* [[client_id, phone_number_id|null, to, body], …], or [client_id, …]. */
static struct json_object *
outbox_json(const struct outbox_new *m, size_t n, int ids_only)
{
	struct json_object *a, *e;
	size_t              i;

	if ((a = json_object_new_array_ext((int)n)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (ids_only) {
			json_object_array_add(a,
			    json_object_new_string(m[i].client_id));
			continue;
		}
		if ((e = json_object_new_array_ext(4)) == NULL) {
			json_object_put(a);
			return NULL;
		}
		json_object_array_add(e,
		    json_object_new_string(m[i].client_id));
		json_object_array_add(e,
		    m[i].phone_number_id
		        ? json_object_new_string(m[i].phone_number_id)
		        : NULL);
		json_object_array_add(e, json_object_new_string(m[i].to));
		json_object_array_add(e, json_object_new_string(m[i].body));
		json_object_array_add(a, e);
	}
	return a;
}

static const char *
outbox_text(struct json_object *a)
{
	return json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The call's client_ids, one per row, numbered from 1 in its order. */
#define OUTBOX_CIDS \
	"JSON_TABLE(?, '$[*]' COLUMNS (ord FOR ORDINALITY, cid VARCHAR(255) " \
	"CHARACTER SET ascii COLLATE ascii_bin PATH '$'))"

/*
 * The rows whose client_id is older than the TTL are given up (deleted
 * by primary key): their client_ids are new again. Found by a plain read,
 * which takes no lock, so a call with none (nearly all) locks no gap of
 * outbox_client that another call is inserting into.
 */
static enum store_rc
outbox_expire_ids(MYSQL *my, const struct workspace *ws, const char *cids)
{
	struct json_object *old;
	struct sq           q;
	enum store_rc       rc;

	if ((rc = sq_rows_on(&q, my,
	         SQ_ARGS(SQ_S(cids), SQ_I(OUTBOX_CLIENT_TTL_S)),
	         "SELECT o.id FROM " OUTBOX_CIDS " j JOIN `%s`.outbox o ON "
	         "o.client_id = j.cid WHERE o.created_at <= UTC_TIMESTAMP() - "
	         "INTERVAL ? SECOND",
	         ws->db_name)) != STORE_OK)
		return rc;
	if ((old = json_object_new_array()) == NULL) {
		sq_close(&q);
		return STORE_ERR;
	}
	while (sq_fetch(&q) == 1)
		json_object_array_add(old,
		    json_object_new_uint64((uint64_t)sq_colint(&q, 0)));
	sq_close(&q);
	if (json_object_array_length(old) > 0)
		rc = sq_do_on(my, SQ_ARGS(SQ_S(outbox_text(old))),
		    "DELETE FROM `%s`.outbox WHERE id IN (SELECT j.id FROM "
		    "JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH "
		    "'$')) j)",
		    ws->db_name);
	json_object_put(old);
	return rc;
}

/*
 * One transaction of a few statements, whatever n (a statement per
 * message was a prepare, an execute and a close each: most of a
 * 1,000-message call's time): the expired client_ids given up, every
 * message inserted in the call's order but those whose client_id is
 * there (INSERT IGNORE: like a single INSERT, one another call is
 * inserting waits for it, then is kept; the first of a client_id twice
 * in the call is the one queued), then each message's id read back by
 * its client_id: the new row's, or the one already there. Every string
 * was checked by the handler (lengths, ASCII, present), so the duplicate
 * key is all IGNORE can pass over. Text columns of JSON_TABLE name their
 * character set: by default they take the server's (latin1 unless
 * configured), and a character outside it would be stored as '?'.
 */
enum store_rc
store_outbox_enqueue(struct db *db, const struct workspace *ws,
    struct outbox_new *m, size_t n)
{
	struct json_object *rows = NULL, *cids = NULL;
	const char         *ctext;
	struct sq           q;
	MYSQL              *my;
	enum store_rc       rc = STORE_ERR;
	size_t              got = 0, i;
	long long           ord;

	if (n == 0)
		return STORE_OK;
	if ((rows = outbox_json(m, n, 0)) == NULL ||
	    (cids = outbox_json(m, n, 1)) == NULL)
		goto out;
	ctext = outbox_text(cids);
	for (i = 0; i < n; i++)
		m[i].id = 0;
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		goto out;
	if ((rc = outbox_expire_ids(my, ws, ctext)) != STORE_OK ||
	    (rc = sq_do_on(my, SQ_ARGS(SQ_S(outbox_text(rows))),
	         "INSERT IGNORE INTO `%s`.outbox (client_id, phone_number_id, "
	         "to_addr, body, state, not_before, created_at, updated_at) "
	         "SELECT j.cid, j.ph, j.t, j.b, 'queued', UTC_TIMESTAMP(3), "
	         "UTC_TIMESTAMP(), UTC_TIMESTAMP(3) FROM JSON_TABLE(?, '$[*]' "
	         "COLUMNS (ord FOR ORDINALITY, cid VARCHAR(255) CHARACTER SET "
	         "ascii COLLATE ascii_bin PATH '$[0]', ph VARCHAR(255) PATH "
	         "'$[1]', t VARCHAR(255) CHARACTER SET ascii PATH '$[2]', b "
	         "LONGTEXT CHARACTER SET utf8mb4 PATH '$[3]')) j ORDER BY j.ord",
	         ws->db_name)) != STORE_OK)
		goto fail;
	/* A locking read: the rows as committed now, not a snapshot's. */
	if ((rc = sq_rows_on(&q, my, SQ_ARGS(SQ_S(ctext)),
	         "SELECT j.ord, o.id FROM " OUTBOX_CIDS " j JOIN `%s`.outbox o "
	         "ON o.client_id = j.cid LOCK IN SHARE MODE",
	         ws->db_name)) != STORE_OK)
		goto fail;
	while (sq_fetch(&q) == 1) {
		ord = sq_colint(&q, 0);
		if (ord >= 1 && (size_t)ord <= n && m[ord - 1].id == 0) {
			m[ord - 1].id = (uint64_t)sq_colint(&q, 1);
			got++;
		}
	}
	sq_close(&q);
	if (got != n) {
		rc = STORE_ERR; /* cannot be: each client_id has its row now */
		goto fail;
	}
	rc = sq_commit(db, my);
	goto out;
fail:
	sq_rollback(db, my);
out:
	json_object_put(rows);
	json_object_put(cids);
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

/*
 * Kept as a tombstone (`cancelled`), not deleted: its client_id stays
 * taken for OUTBOX_CLIENT_TTL_S. A paused message (its workspace not
 * connected) is not sent either and may be cancelled too; a cancelled
 * one again is STORE_OK, so a DELETE repeated after a lost answer gets
 * the same 204.
 */
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
	if (strcmp(r->state, "cancelled") == 0)
		goto fail; /* rc is STORE_OK: nothing to change */
	if (strcmp(r->state, "queued") != 0 &&
	    strcmp(r->state, "paused") != 0) {
		rc = STORE_DUP;
		goto fail;
	}
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_I((long long)id)),
	         "UPDATE `%s`.outbox SET state = 'cancelled', updated_at = "
	         "UTC_TIMESTAMP(3) WHERE id = ?",
	         ws->db_name)) != STORE_OK)
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
 * The two families of store_outbox_page_col: their states in the order
 * of the scan (ORDER BY state DESC: the ENUM's order backwards, so a
 * backward range scan of the index, no sort), and the range.
 */
static const struct {
	enum outbox_state st[3];
	const char       *names[3];
	const char       *key, *index, *where;
} outbox_fam[] = {
	{ { OBX_PAUSED, OBX_SENDING, OBX_QUEUED },
	    { "paused", "sending", "queued" }, "now", "outbox_claim",
	    "state IN ('queued', 'sending', 'paused')" },
	{ { OBX_UNKNOWN_1H, OBX_FAILED_1H, OBX_SENT_1H },
	    { "unknown", "failed", "sent" }, "hour", "outbox_updated",
	    "state IN ('sent', 'failed', 'unknown') AND updated_at >= "
	    "UTC_TIMESTAMP(3) - INTERVAL 1 HOUR" },
};

/*
 * Why two scans and not one COUNT per state: each subquery of the
 * page's statement costs its optimisation (about 20 us, a range
 * analysis of outbox) on every view, whatever the outbox holds, and a
 * capped count per state took two (a probe past the cap, then the
 * COUNT): 14 subqueries, the page's database time half as much again.
 * A family is one derived table of at most OUTBOX_PAGE_SCAN states,
 * counted per state: two range scans, two small in-memory temporary
 * tables, and the two ages, each a MIN() read from an index's first
 * entry.
 */
int
store_outbox_page_col(char *buf, size_t len, const struct workspace *ws)
{
	size_t used = 0, f;
	int    n;

	n = snprintf(buf, len, "JSON_OBJECT(");
	for (f = 0; n >= 0 && (size_t)n < len - used &&
	     f < sizeof(outbox_fam) / sizeof(outbox_fam[0]);
	     f++) {
		used += (size_t)n;
		n = snprintf(buf + used, len - used,
		    "'%s', (SELECT JSON_ARRAY(COUNT(IF(st = '%s', 1, NULL)), "
		    "COUNT(IF(st = '%s', 1, NULL)), COUNT(IF(st = '%s', 1, "
		    "NULL))) FROM (SELECT state AS st FROM `%s`.outbox FORCE "
		    "INDEX (%s) WHERE %s ORDER BY state DESC LIMIT %d) AS f), ",
		    outbox_fam[f].key, outbox_fam[f].names[0],
		    outbox_fam[f].names[1], outbox_fam[f].names[2], ws->db_name,
		    outbox_fam[f].index, outbox_fam[f].where, OUTBOX_PAGE_SCAN);
	}
	if (n < 0 || (size_t)n >= len - used)
		return -1;
	used += (size_t)n;
	n = snprintf(buf + used, len - used,
	    "'wait_s', (SELECT GREATEST(0, TIMESTAMPDIFF(SECOND, "
	    "MIN(not_before), UTC_TIMESTAMP(3))) FROM `%1$s`.outbox WHERE "
	    "state = 'queued'), 'paused_s', (SELECT TIMESTAMPDIFF(SECOND, "
	    "MIN(updated_at), UTC_TIMESTAMP(3)) FROM `%1$s`.outbox WHERE "
	    "state = 'paused'))",
	    ws->db_name);
	return n < 0 || (size_t)n >= len - used ? -1 : 0;
}

/* An integer member, or (an age) null: -1. */
static int
outbox_int(struct json_object *v, int age, long long *out)
{
	if (v == NULL && age) {
		*out = -1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

/*
 * A family's three counts, in its scan's order: all exact when the scan
 * took fewer than OUTBOX_PAGE_SCAN rows; else it stopped in the last
 * state it reached (at least that many) and never reached those after.
 */
static int
outbox_family(struct json_object *a, size_t f, struct outbox_page *p)
{
	long long sum = 0, k[3];
	size_t    i, last = 0;

	if (!json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != 3)
		return -1;
	for (i = 0; i < 3; i++) {
		if (outbox_int(json_object_array_get_idx(a, i), 0, &k[i]) ==
		        -1 ||
		    k[i] < 0)
			return -1;
		sum += k[i];
		if (k[i] > 0)
			last = i;
	}
	if (sum > OUTBOX_PAGE_SCAN)
		return -1;
	for (i = 0; i < 3; i++) {
		p->n[outbox_fam[f].st[i]] = k[i];
		p->how[outbox_fam[f].st[i]] = sum < OUTBOX_PAGE_SCAN ? OBX_EXACT
		    : i < last                                       ? OBX_EXACT
		    : i == last ? OBX_AT_LEAST
		                : OBX_UNCOUNTED;
	}
	return 0;
}

int
store_outbox_page_from(const char *json, struct outbox_page *p)
{
	struct json_object *o = NULL, *v;
	int                 rc = -1;

	memset(p, 0, sizeof(*p));
	if (json == NULL || (o = json_tokener_parse(json)) == NULL ||
	    !json_object_is_type(o, json_type_object))
		goto out;
	if (!json_object_object_get_ex(o, "now", &v) ||
	    outbox_family(v, 0, p) == -1 ||
	    !json_object_object_get_ex(o, "hour", &v) ||
	    outbox_family(v, 1, p) == -1 ||
	    !json_object_object_get_ex(o, "wait_s", &v) ||
	    outbox_int(v, 1, &p->wait_s) == -1 ||
	    !json_object_object_get_ex(o, "paused_s", &v) ||
	    outbox_int(v, 1, &p->paused_s) == -1)
		goto out;
	rc = 0;
out:
	json_object_put(o);
	if (rc == -1) {
		memset(p, 0, sizeof(*p));
		p->wait_s = p->paused_s = -1;
	}
	return rc;
}
