/*
 * jsonx: the typed member lookups and bounded copies every parser of
 * outside JSON (Meta's Graph answers, Meta's webhooks) needs, so a
 * missing or wrong-typed field is a NULL to check, never a crash, and a
 * long one fits its field.
 */
#ifndef WABA_JSONX_H
#define WABA_JSONX_H

#include <stddef.h>

#include <json-c/json.h>

/* The member key of o when it has type t; NULL when absent, null or not. */
struct json_object *jx_get(struct json_object *, const char *key,
    enum json_type);
/* 1 when key is absent or null: optional fields may be either. */
int jx_absent(struct json_object *, const char *key);
/*
 * The string member key of o, or NULL when it is absent, not a string,
 * or has a NUL inside (\u0000), which C strings would silently cut.
 * *len (when len is not NULL) gets its length. Borrowed from o.
 */
const char *jx_str(struct json_object *, const char *key, size_t *len);
/*
 * Copies the string s into the field dst of size bytes (size > 0), cut
 * on a UTF-8 character boundary when it does not fit, so a long name or
 * text never ends in half a character. Meant for text; an identifier
 * that does not fit must be refused, not cut (a cut id is another id).
 */
void jx_copy(char *dst, size_t size, const char *s);

/*
 * json-c's tokener gathers each string of the text in its printbuf (pb),
 * which grows by realloc and is freed unwiped: parsing an answer that
 * carries a token would leave copies of it in freed memory. This one has
 * room up front for any string of a len-byte text (a string is never
 * longer than the text it is in), so pb never moves. The struct is still
 * public in json-c 0.16 (its fields marked "do not use outside
 * json_tokener.c"); this is the one place that does.
 */
struct json_tokener *jx_tokener_new(int depth, size_t len);
/*
 * text (len bytes, no NUL needed) as one strict JSON value (RFC 8259:
 * no single quotes, trailing commas or other json-c leniencies; valid
 * UTF-8; at most depth levels) with nothing after it but whitespace: a
 * new object (json_object_put it), or NULL with err saying why (*nomem
 * 1 when it was our memory, not the text). What every body from outside
 * goes through: webhooks and the internal API's JSON bodies.
 */
struct json_object *jx_parse_strict(const char *text, size_t len, int depth,
    int *nomem, char *err, size_t errlen);
/*
 * A member name from outside, fit to quote in a one-line message: the
 * name's printable ASCII, anything else as '?', cut to JX_NAME_MAX bytes
 * with "..." after. Writes buf (at least JX_NAME_MAX + 4 bytes), returns it.
 */
#define JX_NAME_MAX 40
const char *jx_name(const char *name, char *buf, size_t size);
/* Zeroes the string buffer (what the last string parsed left there). */
void jx_tokener_wipe(struct json_tokener *);
/* Wipes, then frees; NULL is a no-op, as for free(). */
void jx_tokener_free(struct json_tokener *);

#endif
