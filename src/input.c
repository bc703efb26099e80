/*
 * input: checks a route's declared fields (input.h) against one request,
 * so that every raw string is looked at here and nowhere else.
 */
#include <string.h>

#include <json-c/json.h>

#include "input.h"
#include "request.h"
#include "router.h"

static int
in_digits(const char *s, size_t len, size_t min, size_t max)
{
	return len >= min && len <= max && strspn(s, "0123456789") == len;
}

static int
in_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
in_value_ok(const struct in_field *f, const char *s, size_t len,
    struct in_val *v)
{
	size_t i;
	int    hi, lo;

	v->s = s;
	v->len = len;
	if (strlen(s) != len)
		return 0; /* a NUL inside: request.c refuses it already */
	switch (f->type) {
	case IN_SLUG:
		return router_slug_valid(s, len);
	case IN_DIGITS:
		return in_digits(s, len, f->min, f->max);
	case IN_E164:
		if (len > 0 && *s == '+') {
			v->s = ++s;
			v->len = --len;
		}
		return in_digits(s, len, 8, 15) && *s != '0';
	case IN_HEX:
		if (f->max > IN_HEX_MAX || len != f->max * 2)
			return 0;
		for (i = 0; i < f->max; i++) {
			if ((hi = in_hexval(s[2 * i])) < 0 ||
			    (lo = in_hexval(s[2 * i + 1])) < 0)
				return 0;
			v->bin[i] = (unsigned char)(hi << 4 | lo);
		}
		v->binlen = f->max;
		return 1;
	case IN_PRINTABLE:
		if (len < f->min || len > f->max)
			return 0;
		for (i = 0; i < len; i++)
			if ((unsigned char)s[i] <= 0x20 ||
			    (unsigned char)s[i] >= 0x7f)
				return 0;
		return 1;
	case IN_B64URL:
		i = strspn(s,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-");
		return len >= f->min && len <= f->max && i > 0 &&
		    len - i <= 2 && strspn(s + i, "=") == len - i;
	case IN_TEXT:
		return len >= f->min && len <= f->max && req_utf8_valid(s, len);
	case IN_ENUM:
		for (i = 0; f->values != NULL && f->values[i] != NULL; i++)
			if (strcmp(s, f->values[i]) == 0) {
				v->choice = i;
				return 1;
			}
		return 0;
	case IN_NUMBER:
		/* 19 digits always fit: no overflow to check. */
		if (!in_digits(s, len, 1, 19))
			return 0;
		for (v->num = 0, i = 0; i < len; i++)
			v->num = v->num * 10 + (unsigned long long)(s[i] - '0');
		return v->num >= f->min && v->num <= f->max;
	case IN_OBJECT:
	case IN_ARRAY:
		return 0; /* only in a JSON body: see in_json */
	case IN_NAME:
		return len >= f->min && len <= f->max &&
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
	}
	return 0;
}

/* A value that does not fit its field: refused, or (IN_IGNORE_BAD) unset. */
static enum in_err
in_bad(const struct in_field *f, struct in_val *v)
{
	memset(v, 0, sizeof(*v));
	return f->need == IN_IGNORE_BAD ? IN_OK : IN_INVALID;
}

/* A member of the JSON body: a string for the string types, an object
   (bounded by its size as we would send it back) for IN_OBJECT. */
static enum in_err
in_json(const struct in_field *f, struct json_object *body, struct in_val *v)
{
	struct json_object *m;
	const char         *s;

	if (body == NULL || !json_object_is_type(body, json_type_object))
		return IN_BODY;
	if (!json_object_object_get_ex(body, f->name, &m) || m == NULL)
		return f->need == IN_REQUIRED ? IN_MISSING : IN_OK;
	if (f->type == IN_OBJECT) {
		if (!json_object_is_type(m, json_type_object) ||
		    strlen(json_object_to_json_string_ext(m,
		        JSON_C_TO_STRING_PLAIN)) > f->max)
			return in_bad(f, v);
		v->obj = m;
		v->set = 1;
		return IN_OK;
	}
	if (f->type == IN_ARRAY) {
		if (!json_object_is_type(m, json_type_array) ||
		    json_object_array_length(m) < f->min ||
		    json_object_array_length(m) > f->max)
			return in_bad(f, v);
		v->obj = m;
		v->set = 1;
		return IN_OK;
	}
	if (!json_object_is_type(m, json_type_string))
		return in_bad(f, v);
	s = json_object_get_string(m);
	if (!in_value_ok(f, s, (size_t)json_object_get_string_len(m), v))
		return in_bad(f, v);
	v->set = 1;
	return IN_OK;
}

enum in_err
in_check(const struct in_field *fs, size_t n, const struct req *r,
    struct json_object *body, struct in_val *out, size_t *bad)
{
	const struct in_field *f;
	const char            *s;
	enum in_err            e;
	size_t                 i;

	for (i = 0; i < n; i++) {
		f = &fs[i];
		memset(&out[i], 0, sizeof(out[i]));
		*bad = i;
		if (f->where == IN_JSON) {
			if ((e = in_json(f, body, &out[i])) != IN_OK)
				return e;
			continue;
		}
		switch (f->where) {
		case IN_PATH:
			if (strcmp(f->name, "slug") == 0)
				s = *r->slug ? r->slug : NULL;
			else
				s = strcmp(f->name, r->var.name) == 0
				    ? r->var.value
				    : NULL;
			break;
		case IN_QUERY:
			s = kv_get(&r->query, f->name);
			break;
		case IN_FORM:
			s = kv_get(&r->form, f->name);
			break;
		default:
			s = r->fcgi != NULL ? req_param(r, f->name) : NULL;
			break;
		}
		/*
		 * A browser sends every input of a form, an untouched one
		 * empty: for an optional field that cannot be empty, that is
		 * "not given", not a bad value (a PIN left blank where none
		 * is needed). A required one is still missing.
		 */
		if (s != NULL && *s == '\0' && f->min > 0 &&
		    f->where == IN_FORM)
			s = NULL;
		if (s == NULL) {
			if (f->need == IN_REQUIRED)
				return IN_MISSING;
			continue;
		}
		if (f->type == IN_OBJECT || f->type == IN_ARRAY ||
		    !in_value_ok(f, s, strlen(s), &out[i])) {
			if ((e = in_bad(f, &out[i])) != IN_OK)
				return e;
			continue;
		}
		out[i].set = 1;
	}
	return IN_OK;
}
