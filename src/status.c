/*
 * status: the `status --json` object of doc/contract.md, JSON shapes,
 * for the admin tool and GET /api/v1/w/{slug}/connection alike. Nothing
 * secret is in it: whether a token is stored shows only as its expiry.
 * "health" is what the health monitor stored (store/monitor.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "db.h"
#include "status.h"
#include "store/outbox.h"
#include "store/connection.h"
#include "store/push.h"
#include "store/monitor.h"
#include "store/numbers.h"

/* JSON null for what the store leaves empty. */
static json_object *
jstr(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

/* "YYYY-MM-DD HH:MM:SS" (UTC, as the store gives it) to ISO 8601. */
static const char *
iso_utc(const char *sql, char out[24])
{
	if (strlen(sql) < 19 || sql[10] != ' ')
		return NULL;
	snprintf(out, 24, "%.10sT%.8sZ", sql, sql + 11);
	return out;
}

/*
 * doc/contract.md, JSON shapes: "push", how far the SaaS's receiver is
 * behind ([events] push_url; JSON null without one): events not yet
 * acknowledged (counted up to PUSH_PENDING_CAP), and the last failure.
 */
#define PUSH_PENDING_CAP 1000000
static enum store_rc
push_object(struct db *db, const struct workspace *ws, json_object **out)
{
	struct push_row r;
	json_object    *o;
	long long       pending;
	enum store_rc   rc;

	*out = NULL;
	if (db_config(db)->push_url == NULL)
		return STORE_OK;
	if ((rc = store_push_get(db, ws->id, &r)) != STORE_OK &&
	    rc != STORE_NOTFOUND)
		return rc;
	if ((rc = store_push_pending(db, ws, r.last_event_id, PUSH_PENDING_CAP,
	         &pending)) != STORE_OK)
		return rc;
	if ((o = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(o, "pending", json_object_new_int64(pending));
	json_object_object_add(o, "last_error", jstr(r.last_error));
	json_object_object_add(o, "last_error_at", jstr(r.last_error_at));
	json_object_object_add(o, "failures",
	    json_object_new_int64((int64_t)r.failures));
	*out = o;
	return STORE_OK;
}

/* doc/contract.md, JSON shapes: the default first, as the store sorts. */
static json_object *
numbers_array(const struct num_row *nums, size_t n)
{
	json_object *arr, *p;
	size_t       i;

	if ((arr = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((p = json_object_new_object()) == NULL) {
			json_object_put(arr);
			return NULL;
		}
		json_object_object_add(p, "phone_number_id", jstr(nums[i].id));
		json_object_object_add(p, "display_phone_number",
		    jstr(nums[i].display_phone_number));
		json_object_object_add(p, "verified_name",
		    jstr(nums[i].verified_name));
		json_object_object_add(p, "quality_rating",
		    jstr(nums[i].quality_rating));
		json_object_object_add(p, "status", jstr(nums[i].state));
		json_object_object_add(p, "is_default",
		    json_object_new_boolean(nums[i].is_default));
		/* Also on the WhatsApp Business app: the sender's limit. */
		json_object_object_add(p, "coexistence",
		    json_object_new_boolean(nums[i].coexistence));
		json_object_object_add(p, "max_mps",
		    nums[i].max_mps > 0 ? json_object_new_int(nums[i].max_mps)
		                        : NULL);
		json_object_array_add(arr, p);
	}
	return arr;
}

static json_object *
jbool(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v);
}

/*
 * doc/contract.md, JSON shapes: "health", what the monitor found last
 * (every value null before its first check, warnings []).
 */
static json_object *
health_object(const struct mon_health *h)
{
	json_object *o, *w = NULL;
	char         t[24];

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "checked_at",
	    jstr(iso_utc(h->checked_at, t)));
	json_object_object_add(o, "can_send_message", jstr(h->can_send));
	json_object_object_add(o, "messaging_limit", jstr(h->messaging_limit));
	json_object_object_add(o, "quality_rating", jstr(h->quality_rating));
	json_object_object_add(o, "name_status", jstr(h->name_status));
	json_object_object_add(o, "webhook_ok", jbool(h->webhook_ok));
	json_object_object_add(o, "subscription_ok", jbool(h->subscription_ok));
	/* The monitor wrote it with json-c: it parses, unless edited. */
	if (h->warnings != NULL &&
	    ((w = json_tokener_parse(h->warnings)) == NULL ||
	        !json_object_is_type(w, json_type_array))) {
		json_object_put(w);
		w = NULL;
	}
	json_object_object_add(o, "warnings", w ? w : json_object_new_array());
	json_object_object_add(o, "last_error", jstr(h->last_error));
	return o;
}

/*
 * doc/contract.md, JSON shapes: sends, what the gateway's sends did in
 * the last hour and the last failure in Meta's words (null when none).
 */
static json_object *
sends_object(const struct conn_row *r)
{
	json_object *s;
	char         at[24];

	if ((s = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(s, "ok_1h",
	    json_object_new_int64(r->sends_ok_1h));
	json_object_object_add(s, "failed_1h",
	    json_object_new_int64(r->sends_failed_1h));
	json_object_object_add(s, "last_error", jstr(r->last_send_error));
	json_object_object_add(s, "last_error_at",
	    jstr(iso_utc(r->last_send_error_at, at)));
	return s;
}

/*
 * "outbox" (issue 13): {"queued","sending","paused","sent_last_hour",
 * "failed_last_hour","unknown_last_hour","paused_why"}, paused_why the
 * connection's state while messages wait paused, else null.
 */
static enum store_rc
status_outbox(struct db *db, const struct workspace *ws, json_object *o)
{
	struct outbox_glance g;
	json_object         *b, *st;
	enum store_rc        rc;

	if ((rc = store_outbox_glance(db, ws, &g)) != STORE_OK)
		return rc;
	if ((b = json_object_new_object()) == NULL)
		return STORE_ERR;
	json_object_object_add(b, "queued", json_object_new_int64(g.queued));
	json_object_object_add(b, "sending", json_object_new_int64(g.sending));
	json_object_object_add(b, "paused", json_object_new_int64(g.paused));
	json_object_object_add(b, "sent_last_hour",
	    json_object_new_int64(g.sent_1h));
	json_object_object_add(b, "failed_last_hour",
	    json_object_new_int64(g.failed_1h));
	json_object_object_add(b, "unknown_last_hour",
	    json_object_new_int64(g.unknown_1h));
	st = NULL;
	if (g.paused > 0 && json_object_object_get_ex(o, "status", &st))
		st = json_object_get(st);
	json_object_object_add(b, "paused_why", st);
	json_object_object_add(o, "outbox", b);
	return STORE_OK;
}

enum store_rc
status_object(struct db *db, const struct workspace *ws,
    struct json_object **out)
{
	struct conn_row   r;
	struct num_row   *nums = NULL;
	struct mon_health health;
	json_object      *o = NULL, *k = NULL, *arr, *hj;
	char              last[32], t1[24], t2[24];
	size_t            n = 0;
	long              day;
	enum store_rc     rc;

	*out = NULL;
	memset(&health, 0, sizeof(health));
	/* The health row comes with the webhook counters: one round trip. */
	if ((rc = store_conn_get(db, ws, &r)) != STORE_OK ||
	    (rc = store_mon_status(db, ws, &health, last, &day)) != STORE_OK ||
	    (rc = store_num_list(db, ws, &nums, &n)) != STORE_OK) {
		store_mon_health_free(&health);
		return rc;
	}
	rc = STORE_ERR;
	if ((o = json_object_new_object()) == NULL ||
	    (k = json_object_new_object()) == NULL ||
	    (arr = numbers_array(nums, n)) == NULL)
		goto fail;
	json_object_object_add(o, "workspace", jstr(ws->slug));
	json_object_object_add(o, "status", jstr(r.status));
	json_object_object_add(o, "reason", jstr(r.reason));
	json_object_object_add(o, "waba_id", jstr(r.waba_id));
	json_object_object_add(o, "phone_number_id", jstr(r.phone_number_id));
	json_object_object_add(o, "display_phone_number",
	    jstr(r.display_phone_number));
	json_object_object_add(o, "phone_numbers", arr);
	json_object_object_add(o, "token_expires_at",
	    jstr(iso_utc(r.token_expires_at, t1)));
	json_object_object_add(k, "catalog_id",
	    jstr(r.has_catalog ? r.catalog_id : NULL));
	json_object_object_add(k, "status",
	    jstr(r.has_catalog ? r.catalog_status : "not_connected"));
	/* Why it needs reconnecting, in Meta's terms (190's subcode). */
	json_object_object_add(k, "reason",
	    jstr(r.has_catalog && *r.catalog_reason ? r.catalog_reason : NULL));
	json_object_object_add(o, "catalog", k);
	k = NULL;
	json_object_object_add(o, "last_webhook_at", jstr(iso_utc(last, t2)));
	json_object_object_add(o, "webhook_events", json_object_new_int64(day));
	if ((hj = health_object(&health)) == NULL)
		goto fail;
	json_object_object_add(o, "health", hj);
	if ((k = sends_object(&r)) == NULL)
		goto fail;
	json_object_object_add(o, "sends", k);
	k = NULL;
	if ((rc = push_object(db, ws, &k)) != STORE_OK)
		goto fail;
	json_object_object_add(o, "push", k);
	k = NULL;
	if ((rc = status_outbox(db, ws, o)) != STORE_OK)
		goto fail;
	free(nums);
	store_mon_health_free(&health);
	*out = o;
	return STORE_OK;
fail:
	json_object_put(k);
	json_object_put(o);
	free(nums);
	store_mon_health_free(&health);
	return rc;
}
