/*
 * jsonx: json-c as the parsers of outside JSON need it: typed lookups,
 * bounded copies, and a tokener that leaves no copy of a token behind
 * in freed memory. The one file that reaches into json-c's tokener.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <json-c/printbuf.h>
#include <sodium.h>

#include "jsonx.h"

struct json_object *
jx_get(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_is_type(v, t) ? v : NULL;
}

int
jx_absent(struct json_object *o, const char *key)
{
	struct json_object *v;

	return !json_object_object_get_ex(o, key, &v) || v == NULL;
}

const char *
jx_str(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v;
	const char         *s;
	size_t              n;

	if ((v = jx_get(o, key, json_type_string)) == NULL)
		return NULL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n)
		return NULL;
	if (len != NULL)
		*len = n;
	return s;
}

/*
 * Backing over continuation bytes (10xxxxxx) from the cut finds the
 * start of the character that did not fit; for valid UTF-8 that is
 * enough. Invalid input still gives a terminated string that fits.
 */
void
jx_copy(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

struct json_tokener *
jx_tokener_new(int depth, size_t len)
{
	struct json_tokener *tok;

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

const char *
jx_name(const char *name, char *buf, size_t size)
{
	size_t i, n = 0;

	if (size == 0)
		return buf;
	for (i = 0; name[i] != '\0' && n + 1 < size; i++) {
		if (i == JX_NAME_MAX && n + 4 <= size) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		buf[n++] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	}
	buf[n] = '\0';
	return buf;
}

/*
 * RFC 8259: control characters (U+0000 to U+001F) appear in a string
 * only escaped. json-c's strict mode still takes them raw, so a raw
 * newline could reach a member name and from there a message: refused.
 */
static int
jx_raw_control(const char *text, size_t len)
{
	size_t i;
	int    in = 0, esc = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (!in)
			in = c == '"';
		else if (esc)
			esc = 0;
		else if (c == '\\')
			esc = 1;
		else if (c == '"')
			in = 0;
		else if (c < 0x20)
			return 1;
	}
	return 0;
}

struct json_object *
jx_parse_strict(const char *text, size_t len, int depth, int *nomem, char *err,
    size_t errlen)
{
	struct json_tokener    *tok;
	struct json_object     *obj;
	enum json_tokener_error jerr;
	size_t                  end;

	*nomem = 0;
	if (len > INT_MAX) {
		snprintf(err, errlen, "not JSON: too long");
		return NULL;
	}
	if ((tok = json_tokener_new_ex(depth)) == NULL) {
		snprintf(err, errlen, "out of memory");
		*nomem = 1;
		return NULL;
	}
	/* Trailing characters allowed only to be looked at: whitespace. */
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
	        JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	while (obj != NULL && end < len && strchr(" \t\r\n", text[end]) &&
	    text[end] != '\0')
		end++;
	if (obj == NULL || jerr != json_tokener_success || end != len) {
		snprintf(err, errlen, "not JSON: %s",
		    jerr == json_tokener_continue ? "truncated"
		        : jerr != json_tokener_success
		        ? json_tokener_error_desc(jerr)
		        : "data after the value");
		json_object_put(obj);
		obj = NULL;
	}
	if (obj != NULL && jx_raw_control(text, len)) {
		snprintf(err, errlen, "%s",
		    "not JSON: a control character not escaped in a string");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}
