/*
 * The outbox routes (doc/contract.md, Internal API: Outbox): POST
 * /api/v1/w/{slug}/outbox queues up to OUTBOX_BATCH_MAX message objects,
 * each checked as POST /messages checks one (msg_check), in one
 * transaction; GET and DELETE /outbox/{id} read and cancel one. Sending
 * is the sender's (waba-connect --sender), never a worker's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../app.h"
#include "../jsonx.h"
#include "../log.h"
#include "../message.h"
#include "../request.h"
#include "../response.h"
#include "../store/numbers.h"
#include "../store/outbox.h"
#include "handlers.h"

/* 1..OUTBOX_CLIENT_MAX visible ASCII, as an Idempotency-Key. */
static int
obx_client_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > OUTBOX_CLIENT_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * The message object without client_id: what msg_check judges and what
 * is stored (from stays, graph_json_message takes it out when sending).
 */
static struct json_object *
obx_strip(struct json_object *m)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_foreach(m, k, v)
	{
		if (strcmp(k, "client_id") == 0)
			continue;
		json_object_object_add(o, k, json_object_get(v));
	}
	return o;
}

/* An explicit from: one of the workspace's active numbers, else 400. */
static enum answer
obx_from(struct ctx *c, const char *from, size_t i, char last[33])
{
	struct num_row n;
	enum store_rc  rc;
	char           msg[200];

	if (strcmp(from, last) == 0)
		return GO_ON; /* a campaign sends from one number */
	rc = store_num_get(c->app->db, &c->ws, from, &n);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return api_db_down(c);
	if (rc == STORE_NOTFOUND || strcmp(n.state, NUM_ACTIVE) != 0) {
		snprintf(msg, sizeof(msg),
		    "messages[%zu]: from is not one of this workspace's "
		    "active phone numbers",
		    i);
		return api_error(c, 400, "invalid_request", msg);
	}
	snprintf(last, 33, "%s", from);
	return GO_ON;
}

/*
 * Checks message i and fills m: GO_ON, or ANSWERED (400 naming it).
 * *kept holds the stripped object (json_object_put by the caller).
 */
static enum answer
obx_check(struct ctx *c, struct json_object *el, size_t i, struct outbox_new *m,
    struct json_object **kept, char last[33])
{
	struct json_object *o;
	const char         *cid, *from;
	char                err[300], msg[400];
	size_t              n;

	*kept = NULL;
	if (!json_object_is_type(el, json_type_object)) {
		snprintf(msg, sizeof(msg),
		    "messages[%zu] must be a message object", i);
		return api_error(c, 400, "invalid_request", msg);
	}
	if ((cid = jx_str(el, "client_id", &n)) == NULL ||
	    !obx_client_ok(cid, n)) {
		snprintf(msg, sizeof(msg),
		    "messages[%zu]: client_id must be 1 to 64 visible ASCII "
		    "characters",
		    i);
		return api_error(c, 400, "invalid_request", msg);
	}
	if ((o = obx_strip(el)) == NULL)
		return api_json(c, 500, NULL);
	*kept = o;
	if (msg_check(o, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "messages[%zu]: %s", i, err);
		return api_error(c, 400, "invalid_request", msg);
	}
	from = jx_str(o, "from", &n);
	if (from != NULL &&
	    (n < 1 || n > 32 || strspn(from, "0123456789") != n)) {
		snprintf(msg, sizeof(msg),
		    "messages[%zu]: from must be the phone_number_id of one "
		    "of the workspace's numbers",
		    i);
		return api_error(c, 400, "invalid_request", msg);
	}
	if (from != NULL && obx_from(c, from, i, last) == ANSWERED)
		return ANSWERED;
	m->client_id = cid;
	m->phone_number_id = from;
	m->to = jx_str(o, "to", NULL);
	m->body = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return m->body != NULL ? GO_ON : api_json(c, 500, NULL);
}

/* 202 {"accepted":[{"id","client_id"}]} in the order sent. */
static enum answer
obx_accepted(struct ctx *c, const struct outbox_new *m, size_t n)
{
	struct json_object *o, *a, *e;
	size_t              i;

	if ((o = json_object_new_object()) == NULL ||
	    (a = json_object_new_array_ext((int)n)) == NULL) {
		json_object_put(o);
		return api_json(c, 500, NULL);
	}
	json_object_object_add(o, "accepted", a);
	for (i = 0; i < n; i++) {
		if ((e = json_object_new_object()) == NULL) {
			json_object_put(o);
			return api_json(c, 500, NULL);
		}
		json_object_object_add(e, "id",
		    json_object_new_uint64(m[i].id));
		json_object_object_add(e, "client_id",
		    json_object_new_string(m[i].client_id));
		json_object_array_add(a, e);
	}
	return api_json(c, 202, o);
}

enum answer
h_api_outbox_post(struct ctx *c)
{
	struct json_object  *arr = c->in[OBX_MESSAGES].obj;
	struct json_object **kept = NULL;
	struct outbox_new   *m = NULL;
	enum store_rc        rc;
	enum answer          a = ANSWERED;
	char                 last[33] = "";
	size_t               n = json_object_array_length(arr), i, k = 0;

	if (json_object_object_length(c->json) != 1) {
		a = api_error(c, 400, "invalid_request",
		    "the body is {\"messages\":[…]} and nothing else");
		goto done;
	}
	if ((m = calloc(n, sizeof(*m))) == NULL ||
	    (kept = calloc(n, sizeof(*kept))) == NULL) {
		a = api_json(c, 500, NULL);
		goto done;
	}
	for (i = 0; i < n; i++, k++)
		if (obx_check(c, json_object_array_get_idx(arr, i), i, &m[i],
		        &kept[i], last) == ANSWERED) {
			k++;
			goto done;
		}
	rc = store_outbox_enqueue(c->app->db, &c->ws, m, n);
	if (rc != STORE_OK) {
		a = api_db_down(c);
		goto done;
	}
	a = obx_accepted(c, m, n);
done:
	for (i = 0; i < k && kept != NULL; i++)
		json_object_put(kept[i]);
	free(kept);
	free(m);
	return a;
}

/* {"id","client_id","state","message_id","error","attempts","updated_at"} */
static enum answer
obx_row(struct ctx *c, int status, const struct outbox_row *r)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return api_json(c, 500, NULL);
	json_object_object_add(o, "id", json_object_new_uint64(r->id));
	json_object_object_add(o, "client_id",
	    json_object_new_string(r->client_id));
	json_object_object_add(o, "state", json_object_new_string(r->state));
	json_object_object_add(o, "message_id",
	    *r->message_id ? json_object_new_string(r->message_id) : NULL);
	json_object_object_add(o, "error",
	    *r->error ? json_object_new_string(r->error) : NULL);
	json_object_object_add(o, "attempts",
	    json_object_new_int64((int64_t)r->attempts));
	json_object_object_add(o, "updated_at",
	    json_object_new_string(r->updated_at));
	return api_json(c, status, o);
}

enum answer
h_api_outbox_get(struct ctx *c)
{
	struct outbox_row r;
	enum store_rc     rc;

	rc = store_outbox_get(c->app->db, &c->ws, c->in[OBX_ID].num, &r);
	if (rc == STORE_NOTFOUND)
		return api_error(c, 404, "not_found",
		    "no queued message with this id in this workspace");
	if (rc != STORE_OK)
		return api_db_down(c);
	return obx_row(c, 200, &r);
}

enum answer
h_api_outbox_delete(struct ctx *c)
{
	struct outbox_row r;
	enum store_rc     rc;
	char              msg[200];

	rc = store_outbox_cancel(c->app->db, &c->ws, c->in[OBX_ID].num, &r);
	if (rc == STORE_NOTFOUND)
		return api_error(c, 404, "not_found",
		    "no queued message with this id in this workspace");
	if (rc == STORE_DUP) {
		snprintf(msg, sizeof(msg),
		    "the message is %s, no longer queued: it cannot be "
		    "cancelled",
		    r.state);
		return api_error(c, 409, "not_queued", msg);
	}
	if (rc != STORE_OK)
		return api_db_down(c);
	resp_text(c->resp, 204, "");
	return ANSWERED;
}
