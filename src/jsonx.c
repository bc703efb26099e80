#include <limits.h>
#include <stddef.h>

#include <json-c/printbuf.h>
#include <sodium.h>

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

struct json_tokener *
jx_tokener_new(int depth, size_t len)
{
	struct json_tokener	*tok;

	if (len > INT_MAX - 64 || (tok = json_tokener_new_ex(depth)) == NULL)
		return NULL;
	/*
	 * printbuf_memset() extends the (still empty) buffer to hold len + 8
	 * bytes, with at least 8 to spare; an append of n bytes at bpos
	 * reallocs only when size <= bpos + n + 1, and bpos + n <= len.
	 */
	if (printbuf_memset(tok->pb, 0, 0, (int)len + 8) == -1) {
		json_tokener_free(tok);
		return NULL;
	}
	printbuf_reset(tok->pb);
	return tok;
}

void
jx_tokener_wipe(struct json_tokener *tok)
{
	if (tok != NULL && tok->pb != NULL && tok->pb->buf != NULL)
		sodium_memzero(tok->pb->buf, (size_t)tok->pb->size);
}

void
jx_tokener_free(struct json_tokener *tok)
{
	/* json_tokener_free(NULL) crashes; a goto-fail path may pass NULL. */
	if (tok == NULL)
		return;
	jx_tokener_wipe(tok);
	json_tokener_free(tok);
}
