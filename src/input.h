/*
 * input: the fields a route declares (name, where it comes from, its
 * type and bounds), checked at the edge before the handler runs, in the
 * spirit of kcgi's kvalid. A handler reads c->in[i], typed and bounded,
 * and never looks a raw request string up or parses it itself.
 */
#ifndef WABA_INPUT_H
#define WABA_INPUT_H

#include <stddef.h>

struct req;
struct json_object;

#define IN_MAX_FIELDS 6  /* fields one route declares */
#define IN_HEX_MAX    64 /* bytes an IN_HEX field decodes to */

enum in_where {
	IN_PATH, /* the {slug} segment */
	IN_QUERY,
	IN_FORM,
	IN_JSON,  /* a member of a JSON object body */
	IN_HEADER /* a FastCGI parameter, e.g. HTTP_X_HUB_SIGNATURE_256 */
};

enum in_type {
	IN_SLUG,   /* [a-z0-9-]{1,63} */
	IN_DIGITS, /* min..max ASCII digits */
	IN_E164,   /* "+"? then 8..15 digits, no leading 0; stored without + */
	IN_HEX,    /* exactly 2*max hex digits; decoded into bin */
	IN_PRINTABLE, /* min..max bytes of 0x21..0x7e */
	IN_TEXT,      /* min..max bytes of UTF-8 text (request.c checked it) */
	IN_ENUM,      /* one of values */
	IN_NUMBER,    /* a decimal number from min to max, digits only (at
	                 most 19 of them); its value in num */
	IN_B64URL,    /* min..max of [A-Za-z0-9_-] (RFC 4648 §5), then at
	                 most two '=': Meta's opaque handles */
	IN_OBJECT,    /* a JSON object, at most max bytes as sent */
	IN_NAME,      /* min..max of [a-z0-9_]: a message template name */
	IN_ARRAY      /* a JSON array of min..max elements (in obj) */
};

/* Whether a field may be absent, and what a bad value does. */
enum in_need {
	IN_OPTIONAL, /* may be absent; a bad value is refused */
	IN_REQUIRED, /* must be there, and valid */
	/*
	 * May be absent, and a bad value counts as absent: only for what
	 * decorates a page and changes nothing, such as the flash key
	 * (?m=) a redirect back to the settings page carries. Refusing
	 * the page over it would lock a user out of it for a typo.
	 */
	IN_IGNORE_BAD
};

struct in_field {
	const char        *name;
	enum in_where      where;
	enum in_type       type;
	size_t             min, max; /* see enum in_type */
	const char *const *values;   /* IN_ENUM: NULL-terminated */
	enum in_need       need;
	/* What the refusal page says, in words the merchant can act on. */
	const char *why;
};

/* One checked value. Strings point into the request (or json) and live
   as long as it. */
struct in_val {
	int                 set;
	const char         *s; /* NUL-terminated */
	size_t              len;
	unsigned char       bin[IN_HEX_MAX]; /* IN_HEX */
	size_t              binlen;
	size_t              choice; /* IN_ENUM: index in values */
	unsigned long long  num;    /* IN_NUMBER */
	struct json_object *obj;    /* IN_OBJECT: borrowed */
};

/* Why a request's fields were refused. */
enum in_err {
	IN_OK,
	IN_MISSING, /* a required field is absent */
	IN_INVALID, /* present, but not of its type or bounds */
	IN_BODY     /* a JSON field declared, the body not a JSON object */
};

/*
 * Checks the n declared fields of one request: body is the parsed JSON
 * body (NULL when there is none or it did not parse). Fills out[i] for
 * field i. On failure returns why and sets *bad to the field's index.
 */
enum in_err in_check(const struct in_field *, size_t n, const struct req *,
    struct json_object *body, struct in_val *out, size_t *bad);
/* One value against one field's type and bounds; 1 when it fits. */
int in_value_ok(const struct in_field *, const char *, size_t, struct in_val *);

/* A workspace slug, [a-z0-9-]{1,63} (router.c; the admin tool uses it too). */
int router_slug_valid(const char *, size_t);

#endif
