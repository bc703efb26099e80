/*
 * outbox_send: the sender's side of the outbox rows (outbox.h): claimed
 * in short transactions, paced by the number's and the pair's slots in
 * outbox_rate and outbox_pair, settled with their events. Everything a
 * second sender must see to never send twice or too fast is in the
 * database, on the database's clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "../db.h"
#include "../meta_gate.h"
#include "outbox.h"
#include "workspaces.h"

#define OBS_NOW_US "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)"
/* Why a message left sending by a sender that stopped is unknown. */
#define OBS_UNKNOWN \
	"the sender stopped while sending it: Meta may or may not have " \
	"sent it, and it is not sent again"

void
outbox_claims_free(struct outbox_claim *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(c[i].body);
		c[i].body = NULL;
	}
}

/*
 * The candidates, copied out of the statement: at most max, each with
 * its recipient's next slot (0: none) from outbox_pair. Oldest due
 * first, in outbox_claim's order (state, not_before, id): the scan stops
 * at max. By id alone MariaDB read and sorted every due row of the
 * workspace on every claim (33 ms for 8,800 queued, against 3 ms).
 */
static enum store_rc
obs_candidates(MYSQL *my, const struct workspace *ws,
    const struct outbox_want *w, struct outbox_claim *out, long long *pair,
    size_t max, size_t *n)
{
	struct sq     q;
	enum store_rc rc;
	size_t        len;

	*n = 0;
	if ((rc = sq_rows_on(&q, my,
	         SQ_ARGS(SQ_S(w->phone_number_id), SQ_S(w->phone_number_id),
	             SQ_I(w->is_default), SQ_I((long long)max)),
	         "SELECT o.id, o.to_addr, o.body, o.attempts, "
	         "COALESCE(p.next_us, 0) FROM `%1$s`.outbox o LEFT JOIN "
	         "`%1$s`.outbox_pair p ON p.phone_number_id = ? AND p.to_addr "
	         "= o.to_addr WHERE o.state = 'queued' AND o.not_before <= "
	         "UTC_TIMESTAMP(3) AND (o.phone_number_id = ? OR "
	         "(o.phone_number_id IS NULL AND ? = 1)) ORDER BY o.not_before, "
	         "o.id LIMIT ? FOR UPDATE SKIP LOCKED",
	         ws->db_name)) != STORE_OK)
		return rc;
	while (*n < max && sq_fetch(&q) == 1) {
		struct outbox_claim *c = &out[*n];

		memset(c, 0, sizeof(*c));
		c->id = (uint64_t)sq_colint(&q, 0);
		len = sq_col(&q, 1) ? sq_collen(&q, 1) : 0;
		if (len >= sizeof(c->to))
			len = sizeof(c->to) - 1;
		memcpy(c->to, len ? sq_col(&q, 1) : "", len);
		c->to[len] = '\0';
		len = sq_col(&q, 2) ? sq_collen(&q, 2) : 0;
		if ((c->body = malloc(len + 1)) == NULL) {
			sq_close(&q);
			return STORE_ERR;
		}
		memcpy(c->body, len ? sq_col(&q, 2) : "", len);
		c->body[len] = '\0';
		c->attempts = (unsigned)sq_colint(&q, 3) + 1;
		pair[*n] = sq_colint(&q, 4);
		(*n)++;
	}
	sq_close(&q);
	return STORE_OK;
}

static const char *
obs_json(struct json_object *a)
{
	return json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
}

/* [id, …] → sending; [[id, us], …] → not before then; [[to, next]]. */
static enum store_rc
obs_mark(MYSQL *my, const struct workspace *ws, const char *phone,
    uint64_t claim, struct json_object *claimed, struct json_object *later,
    struct json_object *pairs)
{
	struct sq     q;
	enum store_rc rc = STORE_OK;
	uint64_t      took;

	if (json_object_array_length(claimed) > 0) {
		if ((rc = sq_rows_on(&q, my,
		         SQ_ARGS(SQ_S(obs_json(claimed)),
		             SQ_I((long long)claim)),
		         "UPDATE `%s`.outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS "
		         "(id BIGINT UNSIGNED PATH '$')) j ON o.id = j.id SET "
		         "o.state = 'sending', o.attempts = o.attempts + 1, "
		         "o.claimed_at = UTC_TIMESTAMP(3), o.claim = ?, "
		         "o.updated_at = UTC_TIMESTAMP(3) WHERE o.state = 'queued'",
		         ws->db_name)) != STORE_OK)
			return rc;
		took = sq_affected(&q);
		sq_close(&q);
		/* A row that was not queued any more is not ours to send:
		   nothing of this claim then (the locks say it cannot be). */
		if (took != json_object_array_length(claimed))
			return STORE_GONE;
	}
	if (json_object_array_length(later) > 0 &&
	    (rc = sq_do_on(my, SQ_ARGS(SQ_S(obs_json(later))),
	         "UPDATE `%s`.outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS (id "
	         "BIGINT UNSIGNED PATH '$[0]', us BIGINT PATH '$[1]')) j ON "
	         "o.id = j.id SET o.not_before = UTC_TIMESTAMP(3) + INTERVAL "
	         "j.us MICROSECOND",
	         ws->db_name)) != STORE_OK)
		return rc;
	if (json_object_array_length(pairs) > 0)
		rc = sq_do_on(my, SQ_ARGS(SQ_S(phone), SQ_S(obs_json(pairs))),
		    "INSERT INTO `%s`.outbox_pair (phone_number_id, to_addr, "
		    "next_us) SELECT ?, j.t, j.n FROM JSON_TABLE(?, '$[*]' "
		    "COLUMNS (t VARCHAR(140) CHARACTER SET ascii PATH '$[0]', n "
		    "BIGINT PATH '$[1]')) j ON DUPLICATE KEY UPDATE next_us = "
		    "VALUES(next_us)",
		    ws->db_name);
	return rc;
}

enum store_rc
store_outbox_claim(struct db *db, const struct workspace *ws,
    const struct outbox_want *w, struct outbox_claim *out, size_t *n,
    long long *now_us, int *busy)
{
	struct outbox_claim *cand = NULL;
	struct json_object  *claimed = NULL, *later = NULL, *pairs = NULL, *e;
	long long           *pair = NULL;
	struct sq            q;
	MYSQL               *my;
	enum store_rc        rc;
	long long            next, start, slot, p, base;
	size_t               nc = 0, i, k, room;
	uint64_t             claim;

	*n = 0;
	*busy = 0;
	if (w->max == 0)
		return STORE_OK;
	/* 53 bits: exact through JSON and the database, never 0. */
	randombytes_buf(&claim, sizeof(claim));
	claim = (claim & ((1ULL << 53) - 1)) | 1;
	if ((rc = sq_do(db, &ws->srv, SQ_ARGS(SQ_S(w->phone_number_id)),
	         "INSERT IGNORE INTO `%s`.outbox_rate (phone_number_id, "
	         "next_us) VALUES (?, 0)",
	         ws->db_name)) != STORE_OK)
		return rc;
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		return rc;
	rc = sq_one_on(&q, my, SQ_ARGS(SQ_S(w->phone_number_id)),
	    "SELECT next_us, " OBS_NOW_US " FROM `%s`.outbox_rate WHERE "
	    "phone_number_id = ? FOR UPDATE SKIP LOCKED",
	    ws->db_name);
	if (rc == STORE_NOTFOUND) {
		*busy = 1; /* another sender is claiming for this number */
		rc = STORE_OK;
		goto fail;
	}
	if (rc != STORE_OK)
		goto fail;
	next = sq_colint(&q, 0);
	*now_us = sq_colint(&q, 1);
	sq_close(&q);
	base = *now_us + w->lead_us;
	start = next > base ? next : base;
	if (start > base + w->horizon_us) {
		rc = STORE_OK;
		goto fail; /* nothing to claim yet: no change */
	}
	room = (size_t)((base + w->horizon_us - start) / w->gap_us) + 1;
	if (room > w->max)
		room = w->max;
	/* Spares for messages whose recipient must wait. */
	rc = STORE_ERR;
	if ((cand = calloc(2 * room, sizeof(*cand))) == NULL ||
	    (pair = calloc(2 * room, sizeof(*pair))) == NULL ||
	    (claimed = json_object_new_array()) == NULL ||
	    (later = json_object_new_array()) == NULL ||
	    (pairs = json_object_new_array()) == NULL)
		goto fail;
	if ((rc = obs_candidates(my, ws, w, cand, pair, 2 * room, &nc)) !=
	    STORE_OK)
		goto fail;
	slot = start;
	for (i = 0; i < nc && *n < room; i++) {
		p = pair[i];
		/* A recipient claimed earlier in this batch. */
		for (k = 0; k < *n; k++)
			if (strcmp(out[k].to, cand[i].to) == 0 &&
			    out[k].slot_us + w->pair_us > p)
				p = out[k].slot_us + w->pair_us;
		if (p > slot) {
			/* Not before the pair's slot: no rescan until then. */
			e = json_object_new_array();
			json_object_array_add(e,
			    json_object_new_uint64(cand[i].id));
			json_object_array_add(e,
			    json_object_new_int64(p - *now_us));
			json_object_array_add(later, e);
			continue;
		}
		json_object_array_add(claimed,
		    json_object_new_uint64(cand[i].id));
		e = json_object_new_array();
		json_object_array_add(e, json_object_new_string(cand[i].to));
		json_object_array_add(e,
		    json_object_new_int64(slot + w->pair_us));
		json_object_array_add(pairs, e);
		out[*n] = cand[i];
		out[*n].slot_us = slot;
		out[*n].claim = claim;
		cand[i].body = NULL; /* out's now */
		(*n)++;
		slot += w->gap_us;
	}
	if ((rc = obs_mark(my, ws, w->phone_number_id, claim, claimed, later,
	         pairs)) != STORE_OK)
		goto fail;
	if (*n > 0 &&
	    (rc = sq_do_on(my, SQ_ARGS(SQ_I(slot), SQ_S(w->phone_number_id)),
	         "UPDATE `%s`.outbox_rate SET next_us = ? WHERE "
	         "phone_number_id = ?",
	         ws->db_name)) != STORE_OK)
		goto fail;
	if ((rc = sq_commit(db, my)) != STORE_OK) {
		/*
		 * A commit lost with its connection may still have been
		 * applied: the rows would then be sending under a claim that
		 * nobody sends. They are given back at once (the token makes
		 * it a no-op otherwise), not declared unknown after
		 * claim_timeout_s; failing that, the caller keeps trying.
		 */
		if (*n > 0 &&
		    sq_do(db, &ws->srv,
		        SQ_ARGS(SQ_S(obs_json(claimed)),
		            SQ_I((long long)claim)),
		        "UPDATE `%s`.outbox o JOIN JSON_TABLE(?, '$[*]' "
		        "COLUMNS (id BIGINT UNSIGNED PATH '$')) j ON o.id = "
		        "j.id SET o.state = 'queued', o.attempts = o.attempts - "
		        "1, o.claim = NULL, o.updated_at = UTC_TIMESTAMP(3) "
		        "WHERE o.state = 'sending' AND o.claim = ?",
		        ws->db_name) != STORE_OK)
			goto out; /* out[0..*n) for the caller to give back */
		outbox_claims_free(out, *n);
		*n = 0;
	}
	goto out;
fail:
	sq_rollback(db, my);
	outbox_claims_free(out, *n);
	*n = 0;
out:
	if (cand != NULL)
		outbox_claims_free(cand, nc);
	free(cand);
	free(pair);
	json_object_put(claimed);
	json_object_put(later);
	json_object_put(pairs);
	return rc;
}

static const char *
obs_state(enum outbox_end end)
{
	switch (end) {
	case OUTBOX_SENT:
		return "sent";
	case OUTBOX_FAILED:
		return "failed";
	case OUTBOX_UNKNOWN:
		return "unknown";
	case OUTBOX_PAUSE:
		return "paused";
	default:
		return "queued";
	}
}

/*
 * One transaction for n outcomes: the rows, then the feed's events of
 * the sent and failed ones (dedup_key "o:" id: written once, whoever
 * writes it). A row no longer sending (cancelled, settled, or declared
 * unknown after a claim timeout: then only "sent" still lands) is left
 * alone, and has no event. The error's JSON_TABLE column names utf8mb4:
 * by default it would be the server's character set (latin1 unless
 * configured), and Meta's text outside it stored as '?'.
 */
enum store_rc
store_outbox_settle(struct db *db, const struct workspace *ws,
    const struct outbox_result *r, size_t n)
{
	struct json_object *a, *e, *back = NULL;
	MYSQL              *my;
	enum store_rc       rc;
	const char         *js;
	size_t              i;

	if (n == 0)
		return STORE_OK;
	if ((a = json_object_new_array_ext((int)n)) == NULL)
		return STORE_ERR;
	/* [[phone, to, slot, slot + interval]]: the pairs given back. */
	for (i = 0; i < n; i++) {
		if (r[i].slot_us <= 0 || r[i].to == NULL || r[i].phone == NULL)
			continue;
		if ((back == NULL &&
		        (back = json_object_new_array()) == NULL) ||
		    (e = json_object_new_array()) == NULL) {
			json_object_put(a);
			json_object_put(back);
			return STORE_ERR;
		}
		json_object_array_add(e, json_object_new_string(r[i].phone));
		json_object_array_add(e, json_object_new_string(r[i].to));
		json_object_array_add(e, json_object_new_int64(r[i].slot_us));
		json_object_array_add(e,
		    json_object_new_int64(r[i].slot_us + r[i].pair_us));
		json_object_array_add(back, e);
	}
	for (i = 0; i < n; i++) {
		if ((e = json_object_new_array()) == NULL) {
			json_object_put(a);
			return STORE_ERR;
		}
		json_object_array_add(e, json_object_new_uint64(r[i].id));
		json_object_array_add(e,
		    json_object_new_string(obs_state(r[i].end)));
		json_object_array_add(e,
		    json_object_new_string(
		        r[i].message_id ? r[i].message_id : ""));
		json_object_array_add(e,
		    json_object_new_string(r[i].error ? r[i].error : ""));
		json_object_array_add(e,
		    json_object_new_int(r[i].end == OUTBOX_RELEASE ||
		        r[i].end == OUTBOX_PAUSE));
		json_object_array_add(e,
		    json_object_new_int64(r[i].retry_ms * 1000));
		json_object_array_add(e,
		    json_object_new_string(r[i].phone ? r[i].phone : ""));
		json_object_array_add(e,
		    json_object_new_int64((int64_t)r[i].claim));
		json_object_array_add(a, e);
	}
	js = obs_json(a);
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		goto out;
	if ((rc = sq_do_on(my, SQ_ARGS(SQ_S(js)),
	         "UPDATE `%s`.outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS (id "
	         "BIGINT UNSIGNED PATH '$[0]', st VARCHAR(16) PATH '$[1]', mid "
	         "VARCHAR(128) PATH '$[2]', err VARCHAR(1000) CHARACTER SET "
	         "utf8mb4 PATH '$[3]', back INT PATH '$[4]', us BIGINT PATH "
	         "'$[5]', cl BIGINT UNSIGNED PATH '$[7]')) j ON o.id = j.id "
	         "SET o.state = j.st, o.message_id = NULLIF(j.mid, ''), o.error "
	         "= NULLIF(j.err, ''), o.attempts = o.attempts - j.back, "
	         "o.claim = IF(j.back = 1, NULL, o.claim), "
	         "o.not_before = UTC_TIMESTAMP(3) + INTERVAL j.us MICROSECOND, "
	         "o.updated_at = UTC_TIMESTAMP(3) WHERE o.claim = j.cl AND "
	         "(o.state = 'sending' OR (j.st = 'sent' AND o.state = "
	         "'unknown'))",
	         ws->db_name)) != STORE_OK ||
	    (back != NULL &&
	        (rc = sq_do_on(my, SQ_ARGS(SQ_S(obs_json(back))),
	             "UPDATE `%s`.outbox_pair p JOIN JSON_TABLE(?, '$[*]' "
	             "COLUMNS (ph VARCHAR(32) CHARACTER SET ascii PATH '$[0]', "
	             "t VARCHAR(140) CHARACTER SET ascii PATH '$[1]', s BIGINT "
	             "PATH '$[2]', n BIGINT PATH '$[3]')) j ON "
	             "p.phone_number_id = j.ph AND p.to_addr = j.t SET "
	             "p.next_us = j.s WHERE p.next_us = j.n",
	             ws->db_name)) != STORE_OK) ||
	    (rc = sq_do_on(my, SQ_ARGS(SQ_S(js)),
	         "INSERT IGNORE INTO `%1$s`.webhook_events (dedup_key, kind, "
	         "phone_number_id, message_id, wa_from, body, received_at, "
	         "waba_id, object) SELECT CONCAT(IF(o.state = 'unknown', "
	         "'ou:', 'o:'), o.id), IF(o.state = 'sent', 'message_sent', "
	         "'message_failed'), j.ph, o.message_id, o.to_addr, "
	         "LEFT(o.error, 1024), UTC_TIMESTAMP(), c.waba_id, "
	         "JSON_OBJECT('outbox_id', o.id, 'client_id', o.client_id, "
	         "'message_id', o.message_id, 'to', o.to_addr, 'from', j.ph, "
	         "'state', o.state, 'error', o.error) FROM JSON_TABLE(?, "
	         "'$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', st "
	         "VARCHAR(16) PATH '$[1]', ph VARCHAR(32) PATH '$[6]', cl "
	         "BIGINT UNSIGNED PATH '$[7]')) j JOIN `%1$s`.outbox o ON o.id "
	         "= j.id AND o.state = j.st AND o.claim = j.cl JOIN "
	         "`%1$s`.connection c ON c.id = 1 WHERE j.st IN ('sent', "
	         "'failed', 'unknown') ORDER BY o.id",
	         ws->db_name)) != STORE_OK) {
		sq_rollback(db, my);
		goto out;
	}
	rc = sq_commit(db, my);
	/* Sent, failed, unknown: events, which long-polls wait for. */
	for (i = 0; rc == STORE_OK && i < n; i++)
		if (r[i].end == OUTBOX_SENT || r[i].end == OUTBOX_FAILED ||
		    r[i].end == OUTBOX_UNKNOWN) {
			gate_events_bump(ws->id);
			break;
		}
out:
	json_object_put(a);
	json_object_put(back);
	return rc;
}

enum store_rc
store_outbox_hold(struct db *db, const struct workspace *ws, const char *phone,
    const char *to, long long us)
{
	if (to != NULL)
		return sq_do(db, &ws->srv,
		    SQ_ARGS(SQ_S(phone), SQ_S(to), SQ_I(us), SQ_I(us)),
		    "INSERT INTO `%s`.outbox_pair (phone_number_id, to_addr, "
		    "next_us) VALUES (?, ?, " OBS_NOW_US " + ?) ON DUPLICATE "
		    "KEY UPDATE next_us = GREATEST(next_us, " OBS_NOW_US
		    " + ?)",
		    ws->db_name);
	return sq_do(db, &ws->srv, SQ_ARGS(SQ_I(us), SQ_S(phone)),
	    "UPDATE `%s`.outbox_rate SET next_us = GREATEST(next_us, " OBS_NOW_US
	    " + ?) WHERE phone_number_id = ?",
	    ws->db_name);
}

static enum store_rc
obs_changed(struct sq *q, enum store_rc rc, uint64_t *changed)
{
	*changed = 0;
	if (rc != STORE_OK)
		return rc;
	*changed = sq_affected(q);
	sq_close(q);
	return STORE_OK;
}

enum store_rc
store_outbox_pause(struct db *db, const struct workspace *ws, int pause,
    uint64_t *changed)
{
	struct sq     q;
	enum store_rc rc;

	/* rc first, then obs_changed: q is set by sq_rows before it is read. */
	if (pause)
		rc = sq_rows(&q, db, &ws->srv, NULL,
		    "UPDATE `%s`.outbox SET state = 'paused', updated_at = "
		    "UTC_TIMESTAMP(3) WHERE state = 'queued'",
		    ws->db_name);
	else
		rc = sq_rows(&q, db, &ws->srv, NULL,
		    "UPDATE `%s`.outbox SET state = 'queued', updated_at = "
		    "UTC_TIMESTAMP(3) WHERE state = 'paused'",
		    ws->db_name);
	return obs_changed(&q, rc, changed);
}

/*
 * One transaction: the stale rows are chosen and locked once (by id, at
 * most 1,000 a pass), then their message_failed events (state
 * "unknown", dedup key "ou:" id, so a "sent" that still lands has its own
 * message_sent) and the rows themselves. Each statement asking the clock
 * on its own could pick different rows: a row that turns stale between
 * them became unknown with no event. A row without a from is the
 * default number's: its event names that number (the connection row's).
 * Rolled back when there were none.
 */
enum store_rc
store_outbox_expire(struct db *db, const struct workspace *ws, int age_s,
    uint64_t *changed)
{
	struct json_object *ids = NULL;
	struct sq           q;
	MYSQL              *my;
	enum store_rc       rc;
	const char         *js;
	int                 f;

	*changed = 0;
	if ((ids = json_object_new_array()) == NULL)
		return STORE_ERR;
	if ((rc = sq_begin(db, &ws->srv, &my)) != STORE_OK)
		goto out;
	if ((rc = sq_rows_on(&q, my, SQ_ARGS(SQ_I(age_s)),
	         "SELECT id FROM `%s`.outbox WHERE state = 'sending' AND "
	         "claimed_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND ORDER BY id "
	         "LIMIT 1000 FOR UPDATE",
	         ws->db_name)) != STORE_OK)
		goto fail;
	while ((f = sq_fetch(&q)) == 1)
		if (json_object_array_add(ids,
		        json_object_new_uint64((uint64_t)sq_colint(&q, 0))) !=
		    0)
			break;
	sq_close(&q);
	if (f != 0) {
		rc = STORE_ERR;
		goto fail;
	}
	if (json_object_array_length(ids) == 0) {
		sq_rollback(db, my);
		goto out;
	}
	js = obs_json(ids);
	if ((rc = sq_do_on(my,
	         SQ_ARGS(SQ_S(OBS_UNKNOWN), SQ_S(OBS_UNKNOWN), SQ_S(js)),
	         "INSERT IGNORE INTO `%1$s`.webhook_events (dedup_key, kind, "
	         "phone_number_id, message_id, wa_from, body, received_at, "
	         "waba_id, object) SELECT CONCAT('ou:', o.id), "
	         "'message_failed', COALESCE(o.phone_number_id, "
	         "c.phone_number_id), NULL, o.to_addr, ?, UTC_TIMESTAMP(), "
	         "c.waba_id, JSON_OBJECT('outbox_id', o.id, 'client_id', "
	         "o.client_id, 'message_id', NULL, 'to', o.to_addr, 'from', "
	         "COALESCE(o.phone_number_id, c.phone_number_id), 'state', "
	         "'unknown', 'error', ?) FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT "
	         "UNSIGNED PATH '$')) j JOIN `%1$s`.outbox o ON o.id = j.id "
	         "JOIN `%1$s`.connection c ON c.id = 1 ORDER BY o.id",
	         ws->db_name)) != STORE_OK)
		goto fail;
	if ((rc = sq_rows_on(&q, my, SQ_ARGS(SQ_S(js), SQ_S(OBS_UNKNOWN)),
	         "UPDATE `%s`.outbox o JOIN JSON_TABLE(?, '$[*]' COLUMNS (id "
	         "BIGINT UNSIGNED PATH '$')) j ON o.id = j.id SET o.state = "
	         "'unknown', o.error = ?, o.updated_at = UTC_TIMESTAMP(3) "
	         "WHERE o.state = 'sending'",
	         ws->db_name)) != STORE_OK)
		goto fail;
	*changed = sq_affected(&q);
	sq_close(&q);
	if ((rc = sq_commit(db, my)) != STORE_OK)
		*changed = 0;
	else if (*changed > 0)
		gate_events_bump(ws->id);
	goto out;
fail:
	sq_rollback(db, my);
out:
	json_object_put(ids);
	return rc;
}

enum store_rc
store_outbox_pending(struct db *db, const struct workspace *ws, int stale_s,
    int *queued, int *paused, int *stale)
{
	struct sq     q;
	enum store_rc rc;

	*queued = *paused = *stale = 0;
	if ((rc = sq_one(&q, db, &ws->srv, SQ_ARGS(SQ_I(stale_s)),
	         "SELECT EXISTS (SELECT 1 FROM `%1$s`.outbox WHERE state = "
	         "'queued'), EXISTS (SELECT 1 FROM `%1$s`.outbox WHERE state "
	         "= 'paused'), EXISTS (SELECT 1 FROM `%1$s`.outbox WHERE state "
	         "= 'sending' AND claimed_at < UTC_TIMESTAMP(3) - INTERVAL ? "
	         "SECOND)",
	         ws->db_name)) != STORE_OK)
		return rc;
	*queued = sq_colint(&q, 0) != 0;
	*paused = sq_colint(&q, 1) != 0;
	*stale = sq_colint(&q, 2) != 0;
	sq_close(&q);
	return STORE_OK;
}

enum store_rc
store_outbox_numbers(struct db *db, const struct workspace *ws, char (*ids)[33],
    int *is_default, size_t max, size_t *n, int *more)
{
	struct sq     q;
	enum store_rc rc;
	size_t        len;

	*n = 0;
	*more = 0;
	if ((rc = sq_rows(&q, db, &ws->srv, NULL,
	         "SELECT id, is_default FROM `%s`.phone_numbers WHERE state = "
	         "'active' ORDER BY is_default DESC, id",
	         ws->db_name)) != STORE_OK)
		return rc;
	while (*n < max && sq_fetch(&q) == 1) {
		len = sq_col(&q, 0) ? sq_collen(&q, 0) : 0;
		if (len > 32)
			len = 32;
		memcpy(ids[*n], len ? sq_col(&q, 0) : "", len);
		ids[*n][len] = '\0';
		is_default[*n] = sq_colint(&q, 1) != 0;
		(*n)++;
	}
	*more = *n == max && sq_fetch(&q) == 1;
	sq_close(&q);
	return STORE_OK;
}
