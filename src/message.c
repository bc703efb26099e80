/*
 * message: the edge check of a POST /messages body (message.h), a file of
 * its own because it is a parser of client input, unit-tested without a
 * database or a network (tests/unit/test_message.c).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonx.h"
#include "message.h"

/* Cloud API "Messages" reference: the types a business may send. */
const char *const msg_types[] = { "text", "image", "audio", "video", "document",
	"sticker", "location", "contacts", "interactive", "template",
	"reaction", NULL };
const char *const msg_recipient_types[] = { "individual", "group", NULL };

/* The message object's own members (besides the type's object). */
static const char *const msg_members[] = { "to", "type", "from",
	"recipient_type", "context", "biz_opaque_callback_data",
	"messaging_product", NULL };

static int
msg_in(const char *const *set, const char *s)
{
	size_t i;

	for (i = 0; set[i] != NULL; i++)
		if (strcmp(set[i], s) == 0)
			return 1;
	return 0;
}

/* "+"? then 5..20 digits: Meta takes the number as the user gave it. */
static int
msg_phone_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n > 0 && s[0] == '+')
		i = 1;
	if (n - i < 5 || n - i > 20)
		return 0;
	for (; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * A business-scoped user id: the ISO 3166 alpha-2 country, a dot, then
 * up to 128 letters and digits; a parent BSUID has ".ENT" after the
 * country ("US.13491208655302741918", "US.ENT.11815799212886844830").
 */
static int
msg_bsuid_ok(const char *s, size_t n)
{
	size_t i = 3;

	if (n < 4 || !isupper((unsigned char)s[0]) ||
	    !isupper((unsigned char)s[1]) || s[2] != '.')
		return 0;
	if (n > 7 && strncmp(s + 3, "ENT.", 4) == 0)
		i = 7;
	if (n - i < 1 || n - i > 128)
		return 0;
	for (; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

/* A group id as the Groups API gives it: [A-Za-z0-9._@-]{1,128}. */
static int
msg_group_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._@-", s[i]))
			return 0;
	return 1;
}

/* A wamid: base64 after "wamid.", so [A-Za-z0-9._=+/-], 1..255. */
static int
msg_wamid_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > 255)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._=+/-", s[i]))
			return 0;
	return 1;
}

static int msg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Always -1: err says what is wrong, in the client's terms. */
static int
msg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
msg_check(struct json_object *body, char *err, size_t errlen)
{
	struct json_object *v, *ctx;
	const char         *type, *to, *rt, *s;
	size_t              n, tn;

	if (body == NULL || !json_object_is_type(body, json_type_object))
		return msg_fail(err, errlen, "%s",
		    "the body must be a JSON "
		    "object");
	if ((type = jx_str(body, "type", NULL)) == NULL ||
	    !msg_in(msg_types, type))
		return msg_fail(err, errlen, "%s",
		    "type must be one of text, image, audio, video, document, "
		    "sticker, location, contacts, interactive, template, "
		    "reaction");
	{
		struct json_object_iterator it = json_object_iter_begin(body);
		struct json_object_iterator end = json_object_iter_end(body);

		for (; !json_object_iter_equal(&it, &end);
		     json_object_iter_next(&it)) {
			const char *k = json_object_iter_peek_name(&it);
			char        name[JX_NAME_MAX + 4];

			if (msg_in(msg_members, k) || strcmp(k, type) == 0)
				continue;
			if (msg_in(msg_types, k))
				return msg_fail(err, errlen,
				    "%s is another type's object than the "
				    "message's type",
				    k);
			return msg_fail(err, errlen,
			    "%s is not a member of a message object",
			    jx_name(k, name, sizeof(name)));
		}
	}
	/* Meta's one exception: a contacts message carries an array. */
	if (strcmp(type, "contacts") == 0
	        ? (v = jx_get(body, type, json_type_array)) == NULL ||
	            json_object_array_length(v) == 0
	        : jx_get(body, type, json_type_object) == NULL)
		return msg_fail(err, errlen,
		    "a message of type %s needs its %s %s", type, type,
		    strcmp(type, "contacts") == 0 ? "array (of contact objects)"
		                                  : "object");
	if ((s = jx_str(body, "messaging_product", NULL)) == NULL
	        ? !jx_absent(body, "messaging_product")
	        : strcmp(s, "whatsapp") != 0)
		return msg_fail(err, errlen, "%s",
		    "messaging_product is ours to set (whatsapp); leave it "
		    "out");
	rt = jx_str(body, "recipient_type", NULL);
	if (!jx_absent(body, "recipient_type") &&
	    (rt == NULL || !msg_in(msg_recipient_types, rt)))
		return msg_fail(err, errlen, "%s",
		    "recipient_type must be individual or group");
	if ((to = jx_str(body, "to", &tn)) == NULL)
		return msg_fail(err, errlen, "%s", "to is required");
	if (rt != NULL && strcmp(rt, "group") == 0
	        ? !msg_group_ok(to, tn)
	        : !msg_phone_ok(to, tn) && !msg_bsuid_ok(to, tn))
		return msg_fail(err, errlen, "%s",
		    "to must be the user's phone number in international "
		    "format (digits, optionally after +), a business-scoped "
		    "user id (CC.xxx), or for recipient_type group a group id");
	if (!jx_absent(body, "context")) {
		if ((ctx = jx_get(body, "context", json_type_object)) == NULL ||
		    json_object_object_length(ctx) != 1 ||
		    (s = jx_str(ctx, "message_id", &n)) == NULL ||
		    !msg_wamid_ok(s, n))
			return msg_fail(err, errlen, "%s",
			    "context must be {\"message_id\": \"wamid...\"}, "
			    "the id of the message replied to");
	}
	if (!jx_absent(body, "biz_opaque_callback_data") &&
	    ((s = jx_str(body, "biz_opaque_callback_data", &n)) == NULL ||
	        n > MSG_OPAQUE_MAX))
		return msg_fail(err, errlen, "%s",
		    "biz_opaque_callback_data must be a string of at most 512 "
		    "bytes");
	if ((v = json_object_object_get(body, "from")) != NULL &&
	    !json_object_is_type(v, json_type_string))
		return msg_fail(err, errlen, "%s",
		    "from must be the phone_number_id of one of the "
		    "workspace's numbers");
	return 0;
}
