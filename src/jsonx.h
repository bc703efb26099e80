/*
 * jsonx: the typed member lookups every parser of outside JSON (Meta's
 * Graph answers, Meta's webhooks) needs, so a missing or wrong-typed field
 * is a NULL to check, never a crash.
 */
#ifndef WABA_JSONX_H
#define WABA_JSONX_H

#include <json-c/json.h>

/* The member key of o when it has type t; NULL when absent, null or not. */
struct json_object *jx_get(struct json_object *, const char *key,
		    enum json_type);
/* 1 when key is absent or null: optional fields may be either. */
int		 jx_absent(struct json_object *, const char *key);

#endif
