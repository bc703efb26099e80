/*
 * store_ev_*: the events feed's reads of webhook_events, and the
 * connection events the gateway writes there, apart from store_wh_*
 * (webhooks.c), which stores Meta's deliveries as they come.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../db.h"
#include "events.h"
#include "sql.h"
#include "workspaces.h"

enum store_rc
store_ev_list(struct db *db, const struct workspace *ws, uint64_t after,
    unsigned limit, struct sq *q)
{
	/*
	 * AUTO_INCREMENT hands out ids at insert, not at commit: a
	 * delivery that took id 10 may commit after one that took 11. A
	 * plain read could answer 11, the client asks after=11, and 10 is
	 * never seen. LOCK IN SHARE MODE waits for the rows of
	 * transactions still under way (a delivery's takes milliseconds);
	 * it is one autocommitted statement, so nothing stays locked.
	 */
	return sq_rows(q, db, &ws->srv, SQ_ARGS(SQ_I(after), SQ_I(limit)),
	    "SELECT id, kind, DATE_FORMAT(received_at, '%%Y-%%m-%%dT%%H:%%i:"
	    "%%sZ'), waba_id, phone_number_id, object, metadata, contact, "
	    "message_id, status, wa_from, body, IFNULL(TIMESTAMPDIFF(SECOND, "
	    "'1970-01-01 00:00:00', event_at), 0) FROM `%s`.webhook_events "
	    "WHERE id > ? ORDER BY id LIMIT ? LOCK IN SHARE MODE",
	    ws->db_name);
}

int
store_ev_next(struct sq *q, struct ev_row *r)
{
	if (sq_fetch(q) != 1)
		return 0;
	r->id = (uint64_t)strtoull(sq_col(q, 0), NULL, 10);
	r->kind = sq_col(q, 1);
	r->received_at = sq_col(q, 2);
	r->waba_id = sq_col(q, 3);
	r->phone_number_id = sq_col(q, 4);
	r->object = sq_col(q, 5);
	r->metadata = sq_col(q, 6);
	r->contact = sq_col(q, 7);
	r->message_id = sq_col(q, 8);
	r->status = sq_col(q, 9);
	r->from = sq_col(q, 10);
	r->body = sq_col(q, 11);
	r->event_at = sq_colint(q, 12);
	return 1;
}

enum store_rc
store_ev_emit_on(MYSQL *my, const struct workspace *ws, const char *kind,
    const char *key, const char *status, const char *phone, const char *body,
    const char *object)
{
	enum store_rc rc;

	/*
	 * "k:" keys are only ours (Meta's use m, s, x, c, h, e, a), so the
	 * last one is an index range of the dedup_key's unique index. The
	 * key names the change and the event of ours before it: the same
	 * change written twice in a row (two workers that both saw Meta's
	 * 190) is stored once, and a duplicate is not an error.
	 */
	rc = sq_do_on(my,
	    SQ_ARGS(SQ_S(key), SQ_S(kind), SQ_S(status), SQ_S(body),
	        SQ_S(phone && *phone ? phone : NULL), SQ_S(object)),
	    "INSERT INTO `%1$s`.webhook_events (dedup_key, kind, status, "
	    "body, received_at, waba_id, phone_number_id, object) SELECT "
	    "LEFT(CONCAT('k:', ?, ':', (SELECT COALESCE(MAX(id), 0) FROM "
	    "`%1$s`.webhook_events WHERE dedup_key LIKE 'k:%%')), 191), "
	    "?, ?, LEFT(?, 1024), UTC_TIMESTAMP(), c.waba_id, "
	    "COALESCE(?, c.phone_number_id), ? FROM `%1$s`.connection c "
	    "WHERE c.id = 1",
	    ws->db_name);
	return rc == STORE_DUP ? STORE_OK : rc;
}

/*
 * A "connection" event; access "catalog" for the catalog's own token
 * (its dedup_key's state is then "catalog_" state: a change of its own).
 */
static enum store_rc
ev_connection_on(MYSQL *my, const struct workspace *ws, const char *state,
    const char *reason, const char *access)
{
	struct json_object *o;
	const char         *s;
	char                key[64];
	enum store_rc       rc;

	if ((o = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(o, "state", json_object_new_string(state));
	if (reason != NULL && *reason != '\0')
		json_object_object_add(o, "reason",
		    json_object_new_string(reason));
	if (access != NULL)
		json_object_object_add(o, "access",
		    json_object_new_string(access));
	snprintf(key, sizeof(key), "%s%s%s", access ? access : "",
	    access ? "_" : "", state);
	if ((s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	    NULL) {
		json_object_put(o);
		return STORE_ERR;
	}
	rc = store_ev_emit_on(my, ws, "connection", key, state, NULL, reason,
	    s);
	json_object_put(o);
	return rc;
}

enum store_rc
store_ev_connection_on(MYSQL *my, const struct workspace *ws, const char *state,
    const char *reason)
{
	return ev_connection_on(my, ws, state, reason, NULL);
}

enum store_rc
store_ev_catalog_on(MYSQL *my, const struct workspace *ws, const char *reason)
{
	return ev_connection_on(my, ws, "needs_reconnect", reason, "catalog");
}
