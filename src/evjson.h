/*
 * evj_*: a stored event (store/events.h) as the events feed's JSON
 * object: {"id","type","received_at","waba_id","phone_number_id",
 * "object","metadata","contact"} (doc/contract.md, Internal API).
 */
#ifndef WABA_EVJSON_H
#define WABA_EVJSON_H

struct ev_row;
struct json_object;

/* A new object (json_object_put it), or NULL when out of memory. */
struct json_object *evj_event(const struct ev_row *);

#endif
