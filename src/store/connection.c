/*
 * store_conn_*: a workspace's WhatsApp and catalog connection, in its own
 * database, so one workspace's tokens never sit in a table another can
 * reach. Tokens come and go only as vault boxes; every change that a
 * merchant may ask about later also goes to the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../db.h"
#include "../log.h"
#include "../meta_gate.h"
#include "../vault.h"
#include "connection.h"
#include "events.h"
#include "numbers.h"
#include "sql.h"
#include "webhooks.h"
#include "workspaces.h"

/*
 * A restriction or ban Meta reported (account_update) holds the
 * connection at needs_reconnect, with its words as the reason, until
 * Meta lifts it (a later account_update) or the end Meta gave for it
 * has passed. A valid token, a reconnect or a chosen number prove
 * nothing about it, so they keep it; it counts for the WABA it was
 * reported on. Used after waba_id has its new value in a statement.
 */
#define CONN_RESTRICTED \
	"(restriction IS NOT NULL AND " \
	"restriction_waba <=> waba_id AND (restriction_until IS NULL OR " \
	"restriction_until > UTC_TIMESTAMP()))"

static void
cp(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

/*
 * The connection row with its catalog: store_conn_get's statement and
 * the first CONN_NCOLS columns of store_conn_page's, read by conn_row().
 */
#define CONN_COLS \
	"c.status, c.reason, c.waba_id, c.waba_ids, c.scopes, " \
	"c.token_ct IS NOT NULL, c.token_key_version, c.token_expires_at, " \
	"TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), c.token_expires_at), " \
	"c.phone_number_id, c.display_phone_number, c.verified_name, " \
	"c.quality_rating, c.connected_at, c.last_verified_at, " \
	"k.catalog_id, k.catalog_name, k.status, k.reason, " \
	"c.last_send_error, c.last_send_error_at, " CONN_SENDS
#define CONN_NCOLS 23
/*
 * Send health (sends.h) in the connection's own statement: "the last
 * hour" counted by whole UTC hours, the current one and the one before
 * (rows whose hour began less than two hours ago), so a send counts for
 * one to two hours and a failure at 09:59 is still shown at 10:01. At
 * most two rows, read by primary key.
 */
#define CONN_SENDS \
	"(SELECT COALESCE(SUM(s.ok), 0) FROM `%s`.send_hourly s WHERE " \
	"s.hour > UTC_TIMESTAMP() - INTERVAL 2 HOUR), " \
	"(SELECT COALESCE(SUM(s.failed), 0) FROM `%s`.send_hourly s WHERE " \
	"s.hour > UTC_TIMESTAMP() - INTERVAL 2 HOUR)"
#define CONN_FROM \
	"FROM `%s`.connection c LEFT JOIN `%s`.catalog k ON " \
	"k.id = 1"

static void
conn_row(const struct sq *q, struct conn_row *r)
{
	memset(r, 0, sizeof(*r));
	cp(r->status, sizeof(r->status), sq_col(q, 0));
	cp(r->reason, sizeof(r->reason), sq_col(q, 1));
	cp(r->waba_id, sizeof(r->waba_id), sq_col(q, 2));
	cp(r->waba_ids, sizeof(r->waba_ids), sq_col(q, 3));
	cp(r->scopes, sizeof(r->scopes), sq_col(q, 4));
	r->has_token = sq_colint(q, 5) != 0;
	r->key_version = (uint32_t)sq_colint(q, 6);
	cp(r->token_expires_at, sizeof(r->token_expires_at), sq_col(q, 7));
	r->token_expires_in = sq_colint(q, 8);
	cp(r->phone_number_id, sizeof(r->phone_number_id), sq_col(q, 9));
	cp(r->display_phone_number, sizeof(r->display_phone_number),
	    sq_col(q, 10));
	cp(r->verified_name, sizeof(r->verified_name), sq_col(q, 11));
	cp(r->quality_rating, sizeof(r->quality_rating), sq_col(q, 12));
	cp(r->connected_at, sizeof(r->connected_at), sq_col(q, 13));
	cp(r->last_verified_at, sizeof(r->last_verified_at), sq_col(q, 14));
	r->has_catalog = sq_col(q, 15) != NULL;
	cp(r->catalog_id, sizeof(r->catalog_id), sq_col(q, 15));
	cp(r->catalog_name, sizeof(r->catalog_name), sq_col(q, 16));
	cp(r->catalog_status, sizeof(r->catalog_status), sq_col(q, 17));
	cp(r->catalog_reason, sizeof(r->catalog_reason), sq_col(q, 18));
	cp(r->last_send_error, sizeof(r->last_send_error), sq_col(q, 19));
	cp(r->last_send_error_at, sizeof(r->last_send_error_at), sq_col(q, 20));
	r->sends_ok_1h = sq_colint(q, 21);
	r->sends_failed_1h = sq_colint(q, 22);
}

enum store_rc
store_conn_get(struct db *db, const struct workspace *ws, struct conn_row *r)
{
	struct sq     q;
	enum store_rc rc;

	memset(r, 0, sizeof(*r));
	if ((rc = sq_one(&q, db, &ws->srv, NULL,
	         "SELECT " CONN_COLS " " CONN_FROM " WHERE c.id = 1",
	         ws->db_name, ws->db_name, ws->db_name, ws->db_name)) !=
	    STORE_OK)
		return rc;
	conn_row(&q, r);
	sq_close(&q);
	return STORE_OK;
}

/*
 * The gateway's one workspace read before a Meta call: what a call needs
 * of the connection row (status, reason, waba_id, phone_number_id,
 * whether a token is stored) and the WhatsApp token's box (b->ct NULL
 * when none is stored), in one round trip rather than two
 * (test_roundtrips.SendRoundTrips). Not store_conn_get's statement: its
 * catalog join and two send-health subqueries made MariaDB spend about
 * four times the CPU of this one primary-key read on every send (bench/
 * gateway.py); the page and GET /connection read those.
 */
int
store_conn_box_row(const struct sq *q, unsigned int i, struct conn_row *r,
    struct vault_box *b)
{
	memset(r, 0, sizeof(*r));
	memset(b, 0, sizeof(*b));
	cp(r->status, sizeof(r->status), sq_col(q, i));
	cp(r->reason, sizeof(r->reason), sq_col(q, i + 1));
	cp(r->waba_id, sizeof(r->waba_id), sq_col(q, i + 2));
	r->has_token = sq_colint(q, i + 3) != 0;
	cp(r->phone_number_id, sizeof(r->phone_number_id), sq_col(q, i + 4));
	r->key_version = (uint32_t)sq_colint(q, i + 5);
	if (r->has_token && store_conn_box_from_row(q, i + 5, b) == -1)
		return -1;
	return 0;
}

enum store_rc
store_conn_get_box(struct db *db, const struct workspace *ws,
    struct conn_row *r, struct vault_box *b)
{
	struct sq     q;
	enum store_rc rc;

	memset(r, 0, sizeof(*r));
	memset(b, 0, sizeof(*b));
	if ((rc = sq_one(&q, db, &ws->srv, NULL,
	         "SELECT " STORE_CONN_BOX_COLS " FROM `%s`.connection c WHERE "
	         "c.id = 1",
	         ws->db_name)) != STORE_OK)
		return rc;
	if (store_conn_box_row(&q, 0, r, b) == -1)
		rc = STORE_ERR;
	sq_close(&q);
	return rc;
}

/*
 * The page's order of numbers: the default first, then as they were
 * added (added_at is "YYYY-MM-DD HH:MM:SS": compared as text, as in
 * time), then by id.
 */
static int
num_order(const void *a, const void *b)
{
	const struct num_row *x = a, *y = b;
	int                   d;

	if (x->is_default != y->is_default)
		return y->is_default - x->is_default;
	if ((d = strcmp(x->added_at, y->added_at)) != 0)
		return d;
	return strcmp(x->id, y->id);
}

/* store_conn_page's columns after CONN_COLS: see its statement. */
#define PAGE_HEALTH (CONN_NCOLS + 4)
#define PAGE_TPL    (PAGE_HEALTH + 1 + STORE_MON_NCOLS + 2)
#define PAGE_OUTBOX (PAGE_TPL + 2)
#define PAGE_NUMS   (PAGE_OUTBOX + 1)

/* Whether the template counts ({"STATUS": n}) hold a troubled one. */
static int
conn_any_troubled(const char *counts)
{
	static const char *const bad[] = { "REJECTED", "PAUSED", "DISABLED" };
	struct json_object      *o, *v;
	size_t                   i;
	int                      any = 0;

	if (counts == NULL || (o = json_tokener_parse(counts)) == NULL)
		return 0;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (json_object_object_get_ex(o, bad[i], &v) &&
		    json_object_get_int64(v) > 0)
			any = 1;
	json_object_put(o);
	return any;
}

/*
 * The newest 20 rejected, paused or disabled templates, as the card's
 * JSON array. A statement of its own, run only when the counts say
 * there are some: aggregated in the page's statement, the list made
 * MariaDB write an on-disk temporary table on every view (JSON_ARRAYAGG
 * of long values), troubled templates or not. Plain rows, sorted by the
 * server in memory, made into JSON here.
 */
static enum store_rc
conn_troubled(struct db *db, const struct workspace *ws, struct conn_page *p)
{
	static const char *const keys[] = { "id", "name", "language", "status",
		"reason" };
	struct json_object      *a, *o;
	struct sq                q;
	enum store_rc            rc;
	const char              *js;
	size_t                   i;
	int                      f;

	if ((rc = sq_rows(&q, db, &ws->srv, NULL,
	         "SELECT id, name, language, status, reason FROM "
	         "`%s`.templates WHERE status IN ('REJECTED', 'PAUSED', "
	         "'DISABLED') ORDER BY status_at DESC LIMIT 20",
	         ws->db_name)) != STORE_OK)
		return rc;
	if ((a = json_object_new_array()) == NULL) {
		sq_close(&q);
		return STORE_ERR;
	}
	while ((f = sq_fetch(&q)) == 1) {
		if ((o = json_object_new_object()) == NULL)
			break;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			json_object_object_add(o, keys[i],
			    sq_col(&q, (unsigned)i)
			        ? json_object_new_string(
			              sq_col(&q, (unsigned)i))
			        : NULL);
		json_object_array_add(a, o);
	}
	sq_close(&q);
	rc = f == 0 ? STORE_OK : STORE_ERR;
	free(p->tpl_troubled);
	p->tpl_troubled = NULL;
	if (rc == STORE_OK &&
	    ((js = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN)) ==
	            NULL ||
	        (p->tpl_troubled = strdup(js)) == NULL))
		rc = STORE_ERR; /* json-c's NULL is its out of memory */
	json_object_put(a);
	return rc;
}

enum store_rc
store_conn_page(struct db *db, const struct workspace *ws, struct conn_page *p)
{
	struct sq       q;
	struct num_row *nl;
	char            sql[2 * SQ_MAX_SQL], hooks[400], nums[600], obx[3072];
	enum store_rc   rc;
	int             f;

	memset(p, 0, sizeof(*p));
	p->health.webhook_ok = p->health.subscription_ok = -1;
	p->outbox.wait_s = p->outbox.paused_s = -1;
	if (store_wh_health_cols(hooks, sizeof(hooks), ws) == -1 ||
	    store_num_cols(nums, sizeof(nums), "n") == -1 ||
	    store_outbox_page_col(obx, sizeof(obx), ws) == -1)
		return STORE_ERR;
	/*
	 * The page's one round trip in the workspace's database: the
	 * connection row, the newest test message (two scalar subqueries,
	 * each one dive into audit_log's action_id index, reading the same
	 * row: one statement, one snapshot), the webhook counters, the
	 * monitor's health row with its time and the server's as unix times
	 * (TIMESTAMPDIFF from the epoch: the session's time zone plays no
	 * part), the templates' count per status as a JSON object (the
	 * newest troubled ones come after, only when there are some:
	 * conn_troubled; the column between is NULL), the outbox's counts and ages
	 * as one JSON object (store_outbox_page_col: two index range scans
	 * of at most OUTBOX_PAGE_SCAN rows and two index entries, so neither
	 * the queue's length nor the table's history slows the page), and
	 * one row per number (a handful; none: one row of NULLs), the other
	 * columns repeated on each. With 64-character database names its
	 * text is 3,991 bytes, near SQ_MAX_SQL, the row helpers' bound: it
	 * goes through sq_open_text, which has none, from a buffer with
	 * room to grow. As a plain query, not a prepared statement: it binds
	 * nothing, and its text is the workspace's own. Over a thousand
	 * workspaces the statement cache kept ~40 of them (30 KiB each in
	 * libmariadb), so 0.87-0.94 of the pages prepared it, ran it once
	 * and closed it, ~470 us of MariaDB's CPU a page more than the
	 * query (bench/RESULTS.md), and pushed the other statements out.
	 *
	 * No derived table around the page's rows and no ORDER BY (the
	 * numbers are sorted here): either made MariaDB build a temporary
	 * table on every view, and with the health row's TEXT columns an
	 * on-disk Aria one, created and dropped per page. That capped the
	 * page far below the peer's eight statements (bench/RESULTS.md),
	 * and MariaDB 10.11.19 was seen to crash dropping it (signal 11 in
	 * ha_maria::drop_table) under scripts/bench's concurrent load. The
	 * templates' small aggregate reads only its own table.
	 */
	if (snprintf(sql, sizeof(sql),
	        "SELECT " CONN_COLS ", (SELECT detail FROM `%s`.audit_log "
	        "WHERE action = 'test_message' ORDER BY id DESC LIMIT 1), "
	        "(SELECT at FROM `%s`.audit_log WHERE action = 'test_message' "
	        "ORDER BY id DESC LIMIT 1), %s, h.id IS NOT NULL, %s, "
	        "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', h.checked_at), "
	        "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP()), "
	        "(SELECT JSON_OBJECTAGG(st, k) FROM (SELECT IFNULL(status, "
	        "'PENDING') AS st, COUNT(*) AS k FROM `%s`.templates GROUP BY "
	        "st) AS tc), "
	        "NULL, %s, "
	        "%s " CONN_FROM " LEFT JOIN `%s`.health h ON h.id = 1 "
	        "LEFT JOIN `%s`.phone_numbers n ON 1 = 1 WHERE c.id = 1",
	        ws->db_name, ws->db_name, ws->db_name, ws->db_name, hooks,
	        store_mon_cols(), ws->db_name, obx, nums, ws->db_name,
	        ws->db_name, ws->db_name, ws->db_name) >= (int)sizeof(sql))
		return STORE_ERR;
	if ((rc = sq_open_text(&q, db, &ws->srv, sql)) != STORE_OK)
		return rc;
	if ((rc = sq_run(&q)) != STORE_OK)
		goto out;
	if ((f = sq_fetch(&q)) != 1) {
		rc = f == 0 ? STORE_NOTFOUND : STORE_ERR;
		goto out;
	}
	conn_row(&q, &p->conn);
	cp(p->test_detail, sizeof(p->test_detail), sq_col(&q, CONN_NCOLS));
	cp(p->test_at, sizeof(p->test_at), sq_col(&q, CONN_NCOLS + 1));
	cp(p->hooks_last, sizeof(p->hooks_last), sq_col(&q, CONN_NCOLS + 2));
	p->hooks_24h = (long)sq_colint(&q, CONN_NCOLS + 3);
	if (sq_colint(&q, PAGE_HEALTH) != 0 &&
	    (rc = store_mon_from_row(&q, PAGE_HEALTH + 1, &p->health)) !=
	        STORE_OK)
		goto out;
	p->checked_unix = sq_colint(&q, PAGE_TPL - 2);
	p->now_unix = sq_colint(&q, PAGE_TPL - 1);
	if ((sq_col(&q, PAGE_TPL) != NULL &&
	        (p->tpl_counts = strdup(sq_col(&q, PAGE_TPL))) == NULL) ||
	    (sq_col(&q, PAGE_TPL + 1) != NULL &&
	        (p->tpl_troubled = strdup(sq_col(&q, PAGE_TPL + 1))) == NULL)) {
		rc = STORE_ERR;
		goto out;
	}
	if (store_outbox_page_from(sq_col(&q, PAGE_OUTBOX), &p->outbox) == -1) {
		log_err("settings page: workspace %s: the outbox column is not "
		        "its object",
		    ws->slug);
		rc = STORE_ERR;
		goto out;
	}
	do {
		if (sq_col(&q, PAGE_NUMS) == NULL)
			continue;
		if ((nl = realloc(p->numbers,
		         (p->nnumbers + 1) * sizeof(*nl))) == NULL) {
			rc = STORE_ERR;
			goto out;
		}
		p->numbers = nl;
		store_num_from_row(&q, PAGE_NUMS, &p->numbers[p->nnumbers++]);
	} while ((f = sq_fetch(&q)) == 1);
	if (f == -1)
		rc = STORE_ERR;
	else if (p->nnumbers > 1)
		qsort(p->numbers, p->nnumbers, sizeof(*p->numbers), num_order);
	sq_close(&q);
	if (rc == STORE_OK && conn_any_troubled(p->tpl_counts))
		rc = conn_troubled(db, ws, p);
	return rc;
out:
	sq_close(&q);
	return rc;
}

void
store_conn_page_free(struct conn_page *p)
{
	free(p->numbers);
	p->numbers = NULL;
	p->nnumbers = 0;
	free(p->tpl_counts);
	free(p->tpl_troubled);
	p->tpl_counts = p->tpl_troubled = NULL;
	store_mon_health_free(&p->health);
}

static const char *
conn_table(const char *kind)
{
	return strcmp(kind, VAULT_KIND_CATALOG) == 0 ? "catalog" : "connection";
}

/*
 * Copies the current row's (version, nonce, ct) columns at i.. into box.
 * A row whose version or nonce is missing or malformed still becomes a
 * box, marked damaged: it is that workspace's undecryptable token (the
 * vault says so, naming the workspace), not a database failure. -1 only
 * when out of memory.
 */
int
store_conn_box_from_row(const struct sq *q, unsigned int i, struct vault_box *b)
{
	long long ver;

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
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_one(&q, db, &ws->srv, NULL,
	         "SELECT token_key_version, "
	         "token_nonce, token_ct FROM `%s`.%s WHERE id = 1 AND token_ct IS "
	         "NOT NULL",
	         ws->db_name, conn_table(kind))) != STORE_OK)
		return rc;
	if (store_conn_box_from_row(&q, 0, b) == -1)
		rc = STORE_ERR;
	sq_close(&q);
	return rc;
}

#define CONN_AUDIT_SQL \
	"INSERT INTO `%s`.audit_log (at, actor, action, detail) VALUES " \
	"(UTC_TIMESTAMP(), ?, ?, ?)"

enum store_rc
store_conn_audit(struct db *db, const struct workspace *ws, const char *actor,
    const char *action, const char *detail)
{
	return sq_do(db, &ws->srv,
	    SQ_ARGS(SQ_S(actor), SQ_S(action), SQ_S(detail)), CONN_AUDIT_SQL,
	    ws->db_name);
}

enum store_rc
store_conn_token_put(struct db *db, const struct workspace *ws,
    const char *kind, const struct vault_box *b, const char *catalog_id,
    const char *actor)
{
	enum store_rc rc;

	if (strcmp(kind, VAULT_KIND_CATALOG) == 0)
		rc = sq_do(db, &ws->srv,
		    SQ_ARGS(SQ_S(catalog_id), SQ_I(b->key_version),
		        SQ_B(b->nonce, VAULT_NONCE_BYTES),
		        SQ_B(b->ct, b->ctlen)),
		    "REPLACE INTO `%s`.catalog (id, "
		    "catalog_id, status, token_key_version, token_nonce, "
		    "token_ct, connected_at) VALUES (1, ?, 'connected', ?, ?, "
		    "?, UTC_TIMESTAMP())",
		    ws->db_name);
	else
		/*
		 * Not yet checked against Meta: the page says so, and
		 * Verify (or the OAuth flow) settles the status.
		 */
		rc = sq_do(db, &ws->srv,
		    SQ_ARGS(SQ_I(b->key_version),
		        SQ_B(b->nonce, VAULT_NONCE_BYTES),
		        SQ_B(b->ct, b->ctlen)),
		    "UPDATE `%s`.connection SET "
		    "token_key_version = ?, token_nonce = ?, token_ct = ?, "
		    "status = IF(status = 'not_connected', "
		    "'pending_phone_selection', status), "
		    "token_stored_at = UTC_TIMESTAMP(), "
		    "updated_at = UTC_TIMESTAMP() WHERE id = 1",
		    ws->db_name);
	gate_conn_bump(ws->id);
	if (rc == STORE_OK)
		store_conn_audit(db, ws, actor, "token_set", kind);
	return rc;
}

enum store_rc
store_conn_commit(struct db *db, MYSQL *my, const struct workspace *ws)
{
	enum store_rc rc = sq_commit(db, my);

	/* Whatever came of it: a commit that lost its answer may be done. */
	gate_conn_bump(ws->id);
	return rc;
}

/* Re-encrypts one table's token inside the open transaction on my. */
static enum store_rc
conn_rekey_one(MYSQL *my, const struct workspace *ws, const char *kind,
    const struct vault *v, int *changed, char *err, size_t errlen)
{
	struct sq        q;
	struct vault_box in, out;
	enum store_rc    rc;

	memset(&out, 0, sizeof(out));
	rc = sq_one_on(&q, my, NULL,
	    "SELECT token_key_version, token_nonce, "
	    "token_ct FROM `%s`.%s WHERE id = 1 AND token_ct IS NOT NULL "
	    "FOR UPDATE",
	    ws->db_name, conn_table(kind));
	if (rc == STORE_NOTFOUND)
		return STORE_OK; /* no token: nothing to re-encrypt */
	if (rc != STORE_OK)
		return rc;
	if (store_conn_box_from_row(&q, 0, &in) == -1)
		rc = STORE_ERR;
	sq_close(&q);
	if (rc != STORE_OK)
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
	rc = sq_do_on(my,
	    SQ_ARGS(SQ_I(out.key_version), SQ_B(out.nonce, VAULT_NONCE_BYTES),
	        SQ_B(out.ct, out.ctlen)),
	    "UPDATE `%s`.%s SET token_key_version = ?, token_nonce = ?, "
	    "token_ct = ? WHERE id = 1",
	    ws->db_name, conn_table(kind));
	vault_box_free(&out);
	if (rc == STORE_OK)
		(*changed)++;
	return rc;
}

enum store_rc
store_conn_rekey(struct db *db, const struct workspace *ws,
    const struct vault *v, int *changed, char *err, size_t errlen)
{
	MYSQL        *my;
	enum store_rc rc;

	*changed = 0;
	snprintf(err, errlen, "database error");
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = conn_rekey_one(my, ws, VAULT_KIND_WABA, v, changed, err,
	         errlen)) != STORE_OK ||
	    (rc = conn_rekey_one(my, ws, VAULT_KIND_CATALOG, v, changed, err,
	         errlen)) != STORE_OK ||
	    (rc = store_num_rekey_on(my, ws, v, changed, err, errlen)) !=
	        STORE_OK) {
		sq_rollback(db, my);
		*changed = 0;
		return rc;
	}
	return store_conn_commit(db, my, ws);
}

enum store_rc
store_conn_version_span(struct db *db, const struct workspace *ws, uint32_t *lo,
    uint32_t *hi)
{
	struct sq     q;
	enum store_rc rc;

	*lo = *hi = 0;
	/* Every box of the workspace: tokens, and PINs kept while waiting. */
	rc = sq_one(&q, db, &ws->srv, NULL,
	    "SELECT MIN(v), MAX(v) FROM "
	    "(SELECT token_key_version AS v FROM `%1$s`.connection WHERE "
	    "token_ct IS NOT NULL UNION ALL SELECT token_key_version FROM "
	    "`%1$s`.catalog WHERE token_ct IS NOT NULL UNION ALL SELECT "
	    "pin_key_version FROM `%1$s`.phone_numbers WHERE pin_ct IS NOT "
	    "NULL) t",
	    ws->db_name);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	if (sq_col(&q, 0) != NULL) {
		*lo = (uint32_t)sq_colint(&q, 0);
		*hi = (uint32_t)sq_colint(&q, 1);
	}
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_conn_versions(struct db *db, const struct workspace *ws, uint64_t *mask)
{
	struct sq     q;
	enum store_rc rc;
	long long     ver;
	int           r;

	*mask = 0;
	if ((rc = sq_rows(&q, db, &ws->srv, NULL,
	         "SELECT token_key_version "
	         "FROM `%1$s`.connection WHERE token_ct IS NOT NULL UNION SELECT "
	         "token_key_version FROM `%1$s`.catalog UNION SELECT "
	         "pin_key_version FROM `%1$s`.phone_numbers WHERE pin_ct IS NOT "
	         "NULL",
	         ws->db_name)) != STORE_OK)
		return rc;
	while ((r = sq_fetch(&q)) == 1) {
		ver = sq_colint(&q, 0);
		if (ver >= 1 && ver <= 64)
			*mask |= 1ULL << (ver - 1);
	}
	sq_close(&q);
	return r == -1 ? STORE_ERR : STORE_OK;
}

enum store_rc
store_conn_version_used(struct db *db, const struct workspace *ws, uint32_t ver,
    int *used)
{
	struct sq     q;
	uint64_t      mask;
	enum store_rc rc;

	*used = 0;
	if (ver >= 1 && ver <= 64) { /* what store_conn_versions() answers */
		rc = store_conn_versions(db, ws, &mask);
		*used = (mask >> (ver - 1)) & 1;
		return rc;
	}
	rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_I(ver), SQ_I(ver), SQ_I(ver)),
	    "SELECT "
	    "(SELECT COUNT(*) FROM `%1$s`.connection WHERE token_ct IS NOT "
	    "NULL AND token_key_version = ?) + (SELECT COUNT(*) FROM "
	    "`%1$s`.catalog WHERE token_ct IS NOT NULL AND "
	    "token_key_version = ?) + (SELECT COUNT(*) FROM "
	    "`%1$s`.phone_numbers WHERE pin_ct IS NOT NULL AND "
	    "pin_key_version = ?)",
	    ws->db_name);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	*used = sq_colint(&q, 0) > 0;
	sq_close(&q);
	return STORE_OK;
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
	if (keep_wabas != NULL)
		return sq_do_on(my, SQ_ARGS(SQ_S(keep_wabas)),
		    "DELETE FROM "
		    "`%s`.phone_numbers WHERE FIND_IN_SET(waba_id, ?) = 0",
		    ws->db_name);
	return sq_do_on(my, NULL, "DELETE FROM `%s`.phone_numbers",
	    ws->db_name);
}

/*
 * The connection's status, with the row locked until the transaction
 * ends: "" when there is no row.
 */
static enum store_rc
conn_status_on(MYSQL *my, const struct workspace *ws, char out[32])
{
	struct sq     q;
	enum store_rc rc;

	*out = '\0';
	rc = sq_one_on(&q, my, NULL,
	    "SELECT status FROM `%s`.connection WHERE id = 1 FOR UPDATE",
	    ws->db_name);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	cp(out, 32, sq_col(&q, 0));
	sq_close(&q);
	return STORE_OK;
}

/*
 * After a change of the connection inside its transaction, before
 * holding the status it had (read with the row locked: conn_status_on,
 * or conn_mark's own read): the events feed's
 * "connection" event when it turned needs_reconnect (with reason) or
 * back to connected from needs_reconnect ("restored"). A change to the
 * status it already had is no event: one expired token is seen once,
 * however many calls Meta refused.
 */
static enum store_rc
conn_event_on(MYSQL *my, const struct workspace *ws, const char *before,
    const char *reason, int *emitted)
{
	char          after[32];
	enum store_rc rc;

	if ((rc = conn_status_on(my, ws, after)) != STORE_OK)
		return rc;
	if (strcmp(after, before) == 0)
		return STORE_OK;
	if (strcmp(after, "needs_reconnect") == 0)
		rc = store_ev_connection_on(my, ws, "needs_reconnect", reason);
	else if (strcmp(before, "needs_reconnect") == 0 &&
	    strcmp(after, "connected") == 0)
		rc = store_ev_connection_on(my, ws, "restored", NULL);
	else
		return STORE_OK;
	*emitted = rc == STORE_OK;
	return rc;
}

enum store_rc
store_conn_save_oauth(struct db *db, const struct workspace *ws,
    const struct conn_oauth *o, const char *actor)
{
	MYSQL        *my;
	char          before[32];
	enum store_rc rc;
	int           emitted = 0;

	/*
	 * One transaction, so the new token, its WABAs, the status and the
	 * numbers change together or not at all. A kept number stays, with
	 * the others the new token still grants; otherwise the numbers are
	 * forgotten and the merchant adds them again.
	 */
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = conn_status_on(my, ws, before)) != STORE_OK)
		goto fail;
	rc = sq_do_on(my,
	    SQ_ARGS(SQ_I(o->box->key_version),
	        SQ_B(o->box->nonce, VAULT_NONCE_BYTES),
	        SQ_B(o->box->ct, o->box->ctlen), SQ_I(o->expires_at),
	        SQ_I(o->expires_at), SQ_S(o->waba_ids), SQ_S(o->scopes),
	        SQ_I(o->keep_phone), SQ_S(o->waba_id), SQ_I(o->keep_phone),
	        SQ_I(o->keep_phone), SQ_I(o->keep_phone), SQ_I(o->keep_phone),
	        SQ_I(o->keep_phone)),
	    "UPDATE `%s`.connection SET "
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
	    "WHERE id = 1",
	    ws->db_name);
	/* The audit entry commits with what it tells: one fsync, not two. */
	if (rc != STORE_OK ||
	    (rc = conn_numbers_forget_on(my, ws,
	         o->keep_phone ? o->waba_ids : NULL)) != STORE_OK ||
	    (rc = conn_event_on(my, ws, before, NULL, &emitted)) != STORE_OK ||
	    (rc = sq_do_on(my,
	         SQ_ARGS(SQ_S(actor),
	             SQ_S(o->keep_phone ? "reconnected" : "token_stored"),
	             SQ_S(o->waba_id ? o->waba_id : o->waba_ids)),
	         CONN_AUDIT_SQL, ws->db_name)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
		return rc;
	if (emitted)
		gate_events_bump(ws->id);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_conn_choose_waba(struct db *db, const struct workspace *ws,
    const char *waba_id, const char *actor)
{
	struct sq     q;
	MYSQL        *my;
	enum store_rc rc;

	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	/* FIND_IN_SET: only a WABA the token was granted can be chosen. */
	if ((rc = sq_rows_on(&q, my, SQ_ARGS(SQ_S(waba_id), SQ_S(waba_id)),
	         "UPDATE `%s`.connection SET waba_id = ?, "
	         "phone_number_id = NULL, display_phone_number = NULL, "
	         "verified_name = NULL, quality_rating = NULL, "
	         "status = 'pending_phone_selection', updated_at = UTC_TIMESTAMP() "
	         "WHERE id = 1 AND token_ct IS NOT NULL AND "
	         "FIND_IN_SET(?, waba_ids) > 0",
	         ws->db_name)) != STORE_OK)
		goto fail;
	if (sq_affected(&q) == 0)
		rc = STORE_NOTFOUND;
	sq_close(&q);
	/* The numbers belonged to the choice made before. */
	if (rc != STORE_OK ||
	    (rc = conn_numbers_forget_on(my, ws, NULL)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
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
	/*
	 * A default makes a waiting connection connected (unless a
	 * restriction holds it); none makes it wait. A needs_reconnect for
	 * the token stays: a number proves nothing about the token.
	 */
	return sq_do_on(my,
	    SQ_ARGS(SQ_S(n ? n->id : NULL),
	        SQ_S(n ? n->display_phone_number : NULL),
	        SQ_S(n ? n->verified_name : NULL),
	        SQ_S(n ? n->quality_rating : NULL), SQ_S(n ? n->id : NULL)),
	    "UPDATE `%s`.connection SET "
	    "phone_number_id = ?, display_phone_number = ?, verified_name = ?, "
	    "quality_rating = ?, "
	    "status = IF(? IS NULL, IF(status = 'connected', "
	    "'pending_phone_selection', status), IF(" CONN_RESTRICTED ", "
	    "'needs_reconnect', IF(status = 'pending_phone_selection', "
	    "'connected', status))), "
	    "reason = IF(" CONN_RESTRICTED ", restriction, reason), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = 1 AND token_ct IS NOT NULL",
	    ws->db_name);
}

/* With nonce: only while the stored token is the one of that nonce. */
static enum store_rc
conn_mark(struct db *db, const struct workspace *ws, const char *status,
    const char *reason, const unsigned char *nonce)
{
	struct sq     q;
	MYSQL        *my;
	char          before[32];
	enum store_rc rc;
	int           emitted = 0, same;

	/*
	 * With the row locked, so that of two workers both refused by Meta
	 * (190) the second sees the first's needs_reconnect: one event.
	 */
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if (nonce != NULL) {
		/* The status, and whether the token is still the nonce's. */
		rc = sq_one_on(&q, my, SQ_ARGS(SQ_B(nonce, VAULT_NONCE_BYTES)),
		    "SELECT status, token_nonce <=> ? FROM `%s`.connection "
		    "WHERE id = 1 FOR UPDATE",
		    ws->db_name);
		if (rc != STORE_OK)
			goto fail; /* NOTFOUND: no connection row */
		same = sq_colint(&q, 1) != 0;
		cp(before, sizeof(before), sq_col(&q, 0));
		sq_close(&q);
		if (!same) {
			rc = STORE_NOTFOUND; /* replaced since */
			goto fail;
		}
	} else if ((rc = conn_status_on(my, ws, before)) != STORE_OK)
		goto fail;
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_S(status), SQ_S(reason)),
	         "UPDATE `%s`.connection SET status = ?, reason = ?, "
	         "updated_at = UTC_TIMESTAMP() WHERE id = 1 AND "
	         "token_ct IS NOT NULL",
	         ws->db_name)) != STORE_OK ||
	    (rc = conn_event_on(my, ws, before, reason, &emitted)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
		return rc;
	if (emitted)
		gate_events_bump(ws->id);
	/* Once per change, as the event: not once per refused call. */
	if (strcmp(before, status) != 0)
		store_conn_audit(db, ws, "meta", status, reason);
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_conn_mark(struct db *db, const struct workspace *ws, const char *status,
    const char *reason)
{
	return conn_mark(db, ws, status, reason, NULL);
}

enum store_rc
store_conn_mark_token(struct db *db, const struct workspace *ws,
    const char *reason, const unsigned char *nonce)
{
	return conn_mark(db, ws, "needs_reconnect", reason, nonce);
}

enum store_rc
store_conn_verified(struct db *db, const struct workspace *ws,
    int64_t expires_at, const char *scopes, const struct conn_phone *p,
    int *restricted)
{
	MYSQL        *my;
	char          before[32];
	enum store_rc rc;
	int           emitted = 0;

	*restricted = 0;
	/* A Verify that finds the token good again: "restored" in the feed. */
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	if ((rc = conn_status_on(my, ws, before)) != STORE_OK)
		goto fail;
	if ((rc = sq_do_on(my,
	         SQ_ARGS(SQ_I(expires_at), SQ_I(expires_at),
	             SQ_S(scopes && *scopes ? scopes : NULL),
	             SQ_S(p ? p->display_phone_number : NULL),
	             SQ_S(p ? p->verified_name : NULL),
	             SQ_S(p ? p->quality_rating : NULL)),
	         "UPDATE `%s`.connection SET "
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
	         ws->db_name)) != STORE_OK ||
	    (rc = conn_event_on(my, ws, before, NULL, &emitted)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
		return rc;
	if (emitted)
		gate_events_bump(ws->id);
	return store_conn_restricted(db, ws, restricted);
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_conn_restricted(struct db *db, const struct workspace *ws,
    int *restricted)
{
	struct sq     q;
	enum store_rc rc;

	*restricted = 0;
	/* No token (no row): nothing to hold, not a failure. */
	if ((rc = sq_one(&q, db, &ws->srv, NULL,
	         "SELECT " CONN_RESTRICTED
	         " FROM `%s`.connection WHERE id = 1 AND token_ct IS NOT NULL",
	         ws->db_name)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	*restricted = sq_colint(&q, 0) != 0;
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_conn_disconnect(struct db *db, const struct workspace *ws,
    const char *actor)
{
	MYSQL        *my;
	enum store_rc rc;

	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	rc = sq_do_on(my, NULL,
	    "UPDATE `%s`.connection SET "
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
	/* The webhooks' warnings were about the account just let go. */
	if (rc != STORE_OK ||
	    (rc = conn_numbers_forget_on(my, ws, NULL)) != STORE_OK ||
	    (rc = sq_do_on(my, NULL,
	         "UPDATE `%s`.health SET hook_warnings = NULL WHERE id = 1",
	         ws->db_name)) != STORE_OK)
		goto fail;
	if ((rc = store_conn_commit(db, my, ws)) != STORE_OK)
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
	enum store_rc rc;

	rc = sq_do(db, &ws->srv,
	    SQ_ARGS(SQ_S(catalog_id), SQ_S(name), SQ_I(b->key_version),
	        SQ_B(b->nonce, VAULT_NONCE_BYTES), SQ_B(b->ct, b->ctlen)),
	    "REPLACE INTO `%s`.catalog (id, "
	    "catalog_id, catalog_name, status, reason, token_key_version, "
	    "token_nonce, token_ct, connected_at) VALUES (1, ?, ?, "
	    "'connected', NULL, ?, ?, ?, UTC_TIMESTAMP())",
	    ws->db_name);
	if (rc == STORE_OK)
		store_conn_audit(db, ws, actor, "catalog_connected",
		    catalog_id);
	return rc;
}

enum store_rc
store_conn_catalog_mark(struct db *db, const struct workspace *ws,
    const char *reason)
{
	struct sq     q;
	MYSQL        *my;
	char          before[32] = "";
	enum store_rc rc;
	int           changed;

	/* As store_conn_mark: the row locked, one event and audit entry
	   per change, however many calls Meta refused. */
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	rc = sq_one_on(&q, my, NULL,
	    "SELECT status FROM `%s`.catalog WHERE id = 1 FOR UPDATE",
	    ws->db_name);
	if (rc == STORE_NOTFOUND) {
		sq_rollback(db, my);
		return STORE_OK;
	}
	if (rc != STORE_OK)
		goto fail;
	cp(before, sizeof(before), sq_col(&q, 0));
	sq_close(&q);
	changed = strcmp(before, "needs_reconnect") != 0;
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_S(reason)),
	         "UPDATE `%s`.catalog SET status = 'needs_reconnect', "
	         "reason = ? WHERE id = 1",
	         ws->db_name)) != STORE_OK ||
	    (changed && (rc = store_ev_catalog_on(my, ws, reason)) != STORE_OK))
		goto fail;
	if ((rc = sq_commit(db, my)) != STORE_OK)
		return rc;
	if (changed) {
		gate_events_bump(ws->id);
		store_conn_audit(db, ws, "meta", "catalog_needs_reconnect",
		    reason);
	}
	return STORE_OK;
fail:
	sq_rollback(db, my);
	return rc;
}

enum store_rc
store_conn_catalog_delete(struct db *db, const struct workspace *ws,
    const char *actor)
{
	enum store_rc rc;

	rc = sq_do(db, &ws->srv, NULL, "DELETE FROM `%s`.catalog WHERE id = 1",
	    ws->db_name);
	if (rc == STORE_OK)
		store_conn_audit(db, ws, actor, "catalog_disconnected", NULL);
	return rc;
}
