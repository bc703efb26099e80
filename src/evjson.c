/*
 * evj_*: one stored event as the events feed shows it (doc/contract.md,
 * Internal API, GET /events): the JSON object the feed's answer lists and
 * the push to the SaaS sends (push.c), built in one place so both say
 * the same.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "evjson.h"
#include "store/events.h"

static struct json_object *
evj_parse(const char *s)
{
	return s != NULL ? json_tokener_parse(s) : NULL;
}

static void
evj_put(struct json_object *o, const char *key, const char *s)
{
	if (s != NULL && *s != '\0')
		json_object_object_add(o, key, json_object_new_string(s));
}

/*
 * A row stored before schema v6 kept only the typed columns: the
 * object is rebuilt from them under Meta's own names (a text message's
 * body as text.body, a status's recipient_id, an account_update's
 * event), so a client reads old and new rows alike, knowing that an old
 * one carries no more than that.
 */
static struct json_object *
evj_rebuild(const struct ev_row *r)
{
	struct json_object *o, *t, *errs, *e;
	char                ts[24];

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (r->event_at > 0)
		snprintf(ts, sizeof(ts), "%lld", r->event_at);
	else
		*ts = '\0';
	if (strcmp(r->kind, "account_update") == 0) {
		evj_put(o, "event", r->status);
		return o;
	}
	if (strcmp(r->kind, "error") == 0) {
		evj_put(o, "message", r->body);
		return o;
	}
	evj_put(o, "id", r->message_id);
	if (strcmp(r->kind, "status") == 0) {
		evj_put(o, "status", r->status);
		evj_put(o, "recipient_id", r->from);
		evj_put(o, "timestamp", ts);
		if (r->body != NULL && *r->body != '\0' &&
		    (errs = json_object_new_array()) != NULL) {
			if ((e = json_object_new_object()) != NULL) {
				evj_put(e, "message", r->body);
				json_object_array_add(errs, e);
			}
			json_object_object_add(o, "errors", errs);
		}
		return o;
	}
	evj_put(o, "from", r->from);
	evj_put(o, "timestamp", ts);
	if (strcmp(r->kind, "message") == 0 && r->body != NULL &&
	    (t = json_object_new_object()) != NULL) {
		json_object_object_add(o, "type",
		    json_object_new_string("text"));
		evj_put(t, "body", r->body);
		json_object_object_add(o, "text", t);
	} else if (strcmp(r->kind, "message") != 0)
		evj_put(o, "summary", r->body);
	return o;
}

struct json_object *
evj_event(const struct ev_row *r)
{
	struct json_object *o, *obj;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((obj = evj_parse(r->object)) == NULL)
		obj = evj_rebuild(r);
	json_object_object_add(o, "id", json_object_new_uint64(r->id));
	json_object_object_add(o, "type", json_object_new_string(r->kind));
	json_object_object_add(o, "received_at",
	    json_object_new_string(r->received_at ? r->received_at : ""));
	json_object_object_add(o, "waba_id",
	    r->waba_id ? json_object_new_string(r->waba_id) : NULL);
	json_object_object_add(o, "phone_number_id",
	    r->phone_number_id ? json_object_new_string(r->phone_number_id)
	                       : NULL);
	json_object_object_add(o, "object", obj);
	json_object_object_add(o, "metadata", evj_parse(r->metadata));
	json_object_object_add(o, "contact", evj_parse(r->contact));
	return o;
}
