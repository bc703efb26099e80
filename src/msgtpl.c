/*
 * msgtpl: checks a submitted message template object and rebuilds it
 * as the body for Meta (msgtpl.h). Pure, so unit-tested without a
 * stack (tests/unit/test_msgtpl.c). The members and limits are Meta's
 * (WhatsApp Business Management API, "Message Templates"; "Template
 * components": header and footer text at most 60 characters, body at
 * most 1024); a member Meta does not document for creation is refused
 * rather than passed on, so the list below is the one place to extend.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonx.h"
#include "msgtpl.h"

static const char *const mt_categories[] = { "MARKETING", "UTILITY",
	"AUTHENTICATION", NULL };
static const char *const mt_formats[] = { "POSITIONAL", "NAMED", NULL };

/* Component types; limit: characters its "text" may have (0: none). */
static const struct {
	const char *type;
	size_t      text_max;
} mt_components[] = {
	{ "HEADER", 60 },
	{ "BODY", 1024 },
	{ "FOOTER", 60 },
	{ "BUTTONS", 0 },
	{ "CAROUSEL", 0 },
	{ "LIMITED_TIME_OFFER", 0 },
	{ "CALL_PERMISSION_REQUEST", 0 },
};
#define MT_NCOMP (sizeof(mt_components) / sizeof(mt_components[0]))

static int
mt_one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

int
msgtpl_name_ok(const char *s, size_t len)
{
	return s != NULL && len >= 1 && len <= MSGTPL_NAME_MAX &&
	    strlen(s) == len &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

int
msgtpl_language_ok(const char *s)
{
	size_t n = s != NULL ? strspn(s, "abcdefghijklmnopqrstuvwxyz") : 0;

	if (n < 2 || n > 3)
		return 0;
	if (s[n] == '\0')
		return 1;
	return s[n] == '_' &&
	    strspn(s + n + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 2 &&
	    s[n + 3] == '\0';
}

/* Characters, as Meta counts its limits: UTF-8 lead bytes. */
static size_t
mt_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int __attribute__((format(printf, 3, 4)))
mt_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* components: 1..10 objects, each of a known type at most once, BODY
   among them, text within its type's limit. */
static int
mt_components_ok(struct json_object *a, char *err, size_t errlen)
{
	struct json_object *c, *v;
	const char         *type;
	size_t              i, k, n = json_object_array_length(a);
	int                 seen[MT_NCOMP] = { 0 };

	if (n == 0 || n > MSGTPL_COMPONENTS_MAX)
		return mt_bad(err, errlen,
		    "components must hold 1 to %d components",
		    MSGTPL_COMPONENTS_MAX);
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(a, i);
		if (!json_object_is_type(c, json_type_object) ||
		    !json_object_object_get_ex(c, "type", &v) ||
		    !json_object_is_type(v, json_type_string))
			return mt_bad(err, errlen,
			    "components[%zu] must be an object with a type", i);
		type = json_object_get_string(v);
		for (k = 0; k < MT_NCOMP; k++)
			if (strcmp(type, mt_components[k].type) == 0)
				break;
		if (k == MT_NCOMP)
			return mt_bad(err, errlen,
			    "components[%zu].type is not one of HEADER, BODY, "
			    "FOOTER, BUTTONS, CAROUSEL, LIMITED_TIME_OFFER, "
			    "CALL_PERMISSION_REQUEST",
			    i);
		if (seen[k]++)
			return mt_bad(err, errlen,
			    "components has more than one %s", type);
		if (!json_object_object_get_ex(c, "text", &v))
			continue;
		if (!json_object_is_type(v, json_type_string))
			return mt_bad(err, errlen,
			    "components[%zu].text must be a string", i);
		if (mt_components[k].text_max > 0 &&
		    mt_chars(json_object_get_string(v)) >
		        mt_components[k].text_max)
			return mt_bad(err, errlen,
			    "components[%zu].text: a %s has at most %zu "
			    "characters",
			    i, type, mt_components[k].text_max);
	}
	if (!seen[1])
		return mt_bad(err, errlen, "components must include a BODY");
	return 0;
}

/* One top-level member: 0 when it may go to Meta as it is. */
static int
mt_member(const char *key, struct json_object *v, char *err, size_t errlen)
{
	char        name[JX_NAME_MAX + 4];
	const char *s = json_object_is_type(v, json_type_string)
	    ? json_object_get_string(v)
	    : NULL;
	int64_t     ttl;

	if (strcmp(key, "name") == 0) {
		if (s == NULL ||
		    !msgtpl_name_ok(s, (size_t)json_object_get_string_len(v)))
			return mt_bad(err, errlen,
			    "name must be 1 to 512 of a-z, 0-9 and _");
	} else if (strcmp(key, "language") == 0) {
		if (s == NULL || !msgtpl_language_ok(s))
			return mt_bad(err, errlen,
			    "language must be a language code such as en or "
			    "en_US");
	} else if (strcmp(key, "category") == 0) {
		if (s == NULL || !mt_one_of(s, mt_categories))
			return mt_bad(err, errlen,
			    "category must be MARKETING, UTILITY or "
			    "AUTHENTICATION");
	} else if (strcmp(key, "components") == 0) {
		if (!json_object_is_type(v, json_type_array))
			return mt_bad(err, errlen,
			    "components must be an array");
		return mt_components_ok(v, err, errlen);
	} else if (strcmp(key, "parameter_format") == 0) {
		if (s == NULL || !mt_one_of(s, mt_formats))
			return mt_bad(err, errlen,
			    "parameter_format must be POSITIONAL or NAMED");
	} else if (strcmp(key, "allow_category_change") == 0 ||
	    strcmp(key, "cta_url_link_tracking_opted_out") == 0) {
		if (!json_object_is_type(v, json_type_boolean))
			return mt_bad(err, errlen, "%s must be true or false",
			    key);
	} else if (strcmp(key, "message_send_ttl_seconds") == 0) {
		/* -1 (Meta's default) or up to 30 days. */
		ttl = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || ttl < -1 ||
		    ttl > 30 * 86400)
			return mt_bad(err, errlen,
			    "message_send_ttl_seconds must be a number of "
			    "seconds (-1 for Meta's default)");
	} else
		return mt_bad(err, errlen,
		    "%s is not a member of a message template",
		    jx_name(key, name, sizeof(name)));
	return 0;
}

int
msgtpl_json(struct json_object *obj, char **out, char *err, size_t errlen)
{
	static const char *const required[] = { "name", "language", "category",
		"components", NULL };
	struct json_object      *o, *v;
	const char              *s;
	size_t                   i;

	*out = NULL;
	if (!json_object_is_type(obj, json_type_object))
		return mt_bad(err, errlen, "the body must be a JSON object");
	for (i = 0; required[i] != NULL; i++)
		if (!json_object_object_get_ex(obj, required[i], &v) ||
		    v == NULL)
			return mt_bad(err, errlen, "%s is required",
			    required[i]);
	if ((o = json_object_new_object()) == NULL)
		return mt_bad(err, errlen, "out of memory");
	json_object_object_foreach(obj, key, val)
	{
		if (mt_member(key, val, err, errlen) == -1) {
			json_object_put(o);
			return -1;
		}
		json_object_object_add(o, key, json_object_get(val));
	}
	if ((s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	        NULL ||
	    (*out = strdup(s)) == NULL) {
		json_object_put(o);
		return mt_bad(err, errlen, "out of memory");
	}
	json_object_put(o);
	return 0;
}
