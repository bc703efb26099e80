#include <stddef.h>

#include "jsonx.h"

struct json_object *
jx_get(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_is_type(v, t) ? v : NULL;
}

int
jx_absent(struct json_object *o, const char *key)
{
	struct json_object	*v;

	return !json_object_object_get_ex(o, key, &v) || v == NULL;
}
