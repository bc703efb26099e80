/*
 * graph_parse: Meta's JSON answers into the typed structs of graph.h
 * (the one JSON body we send is built by graph_encode.c).
 *
 * Everything Meta sends is untrusted input: each field we use is looked
 * up, type-checked and length-checked, and a 2xx answer that does not
 * have the documented shape is a bad_response error naming the field.
 * Error objects are read leniently instead (a wrong-typed member is
 * ignored), because a partial error is still more use to a person than
 * "bad response".
 *
 * References: Graph API "Handling Errors"
 * (developers.facebook.com/docs/graph-api/guides/error-handling);
 * WhatsApp Cloud API "Error codes"
 * (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes);
 * "debug_token" reference; Cloud API "Phone Numbers" and "Messages".
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "buf.h"
#include "jsonx.h"
#include "graph.h"
#include "graph_int.h"

/* Meta's answers nest a few levels; anything deeper is not one. */
#define GP_DEPTH 32
/* Tokens are a few hundred characters; a longer one is not a token. */
#define GP_TOKEN_MAX 4096

/* Always -1: a 2xx answer we cannot use. http_status is kept. */
int
gp_bad(struct graph_err *err, const char *fmt, ...)
{
	va_list ap;

	err->bad_response = 1;
	err->transient = 0;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

int
gp_missing(struct graph_err *err, const char *field, const char *want)
{
	return gp_bad(err, "Meta's answer has no valid \"%s\" (%s expected)",
	    field, want);
}

/*
 * The whole body must be one JSON value (strict RFC 8259, bounded depth);
 * NULL otherwise. The caller puts the result.
 */
static struct json_object *
gp_parse(const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object  *obj;
	size_t               end;

	if (body == NULL || len == 0 || len > GRAPH_MAX_BODY)
		return NULL;
	/* Answers carry tokens: a tokener that leaves no copy behind. */
	if ((tok = jx_tokener_new(GP_DEPTH, len)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (obj != NULL &&
	    json_tokener_get_error(tok) == json_tokener_success) {
		end = json_tokener_get_parse_end(tok);
		while (end < len && strchr(" \t\r\n", body[end]) != NULL)
			end++;
		if (end != len) {
			json_object_put(obj);
			obj = NULL;
		}
	} else if (obj != NULL) {
		json_object_put(obj);
		obj = NULL;
	}
	jx_tokener_free(tok);
	return obj;
}

struct json_object *
graph_json_parse(const char *body, size_t len)
{
	return gp_parse(body, len);
}

/* Graph object ids are decimal strings; they end up in URL paths. */
static int
gp_is_id(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n < max && strspn(s, "0123456789") == n;
}

/* Lenient integer for error objects: a number, or a string of digits. */
long
gp_long_lenient(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char         *s;
	char               *end;
	long                n;

	if ((v = jx_get(o, key, json_type_int)) != NULL)
		return (long)json_object_get_int64(v);
	if ((s = jx_str(o, key, NULL)) == NULL || *s < '0' || *s > '9')
		return 0;
	n = strtol(s, &end, 10);
	return *end == '\0' && n != LONG_MAX ? n : 0;
}

static void
gp_copy_lenient(struct json_object *o, const char *key, char *dst, size_t size)
{
	const char *s;

	if ((s = jx_str(o, key, NULL)) != NULL)
		jx_copy(dst, size, s);
}

/* --- Errors --------------------------------------------------------------- */

/*
 * Codes Meta says are temporary (wait and retry). Graph "Handling Errors":
 * 1 API Unknown, 2 API Service, 4 / 17 / 32 / 613 throttling, 341
 * application limit; 80000-80014 business use case rate limits (80007 is
 * WhatsApp Business Account's). Cloud API error codes: 130429 throughput
 * reached, 131056 pair rate limit, 131016 service unavailable, 133004
 * server temporarily unavailable.
 */
int
graph_code_is_transient(long code)
{
	switch (code) {
	case 1:
	case 2:
	case 4:
	case 17:
	case 32:
	case 341:
	case 613:
	case 130429:
	case 131016:
	case 131056:
	case 133004:
		return 1;
	default:
		return code >= 80000 && code <= 80014;
	}
}

/*
 * "Handling Errors" gives 1 (API Unknown) as "possibly a temporary issue
 * due to downtime" and the Messenger Platform's error table records it
 * after sends that went out: it does not prove the call was not acted
 * on. The others are throttling (the call was refused for the rate) or
 * the service being down.
 */
int
graph_code_is_rejection(long code)
{
	return code != 1 && graph_code_is_transient(code);
}

int
graph_error_parse(long http_status, const char *body, size_t len,
    struct graph_err *err)
{
	struct json_object *root, *e, *v;
	int                 rc = -1;

	memset(err, 0, sizeof(*err));
	err->http_status = http_status;
	/* Throttled or failing upstream, whatever the body says. Only a
	   429 also says the call was not processed (RFC 6585 §4). */
	if (http_status == 429 || http_status >= 500)
		err->transient = 1;
	if (http_status == 429)
		err->rejected = 1;
	root = gp_parse(body, len);
	if ((e = jx_get(root, "error", json_type_object)) != NULL) {
		err->code = gp_long_lenient(e, "code");
		err->subcode = gp_long_lenient(e, "error_subcode");
		if ((v = jx_get(e, "is_transient", json_type_boolean)) !=
		        NULL &&
		    json_object_get_boolean(v))
			err->transient = 1;
		if (graph_code_is_transient(err->code))
			err->transient = 1;
		if (graph_code_is_rejection(err->code))
			err->rejected = 1;
		gp_copy_lenient(e, "type", err->type, sizeof(err->type));
		gp_copy_lenient(e, "message", err->message,
		    sizeof(err->message));
		gp_copy_lenient(e, "error_user_msg", err->user_msg,
		    sizeof(err->user_msg));
		gp_copy_lenient(e, "fbtrace_id", err->fbtrace_id,
		    sizeof(err->fbtrace_id));
		gp_copy_lenient(jx_get(e, "error_data", json_type_object),
		    "details", err->details, sizeof(err->details));
		if (err->message[0] == '\0')
			snprintf(err->message, sizeof(err->message),
			    "Meta returned error code %ld", err->code);
		rc = 0;
	} else
		snprintf(err->message, sizeof(err->message),
		    "Meta answered "
		    "HTTP %ld without a Graph error object",
		    http_status);
	json_object_put(root);
	return rc;
}

/*
 * How long a caller should wait after Meta's own rate limits. Meta
 * sends no Retry-After; these follow its documented windows: the
 * throughput cap (130429) is per second, the pair limit (131056) about
 * one message per 6 s to one user, the others (4, 17, 32, 613, 80000-
 * 80014 such as 80007, 80008 and the catalog's 80009 and 80014: app,
 * user, page, custom and WABA limits; 131048, the spam rate limit that
 * follows the number's quality) are counted over an hour, so
 * a minute is a polite first wait.
 */
long
graph_err_retry_after(const struct graph_err *e)
{
	if (e->unavailable)
		return e->retry_after > 0 ? e->retry_after : 1;
	switch (e->code) {
	case 130429:
		return 1;
	case 131056:
		return 6;
	default:
		return 60;
	}
}

/* 1 when e is one of Meta's rate limits (doc/contract.md, Errors):
   the gateway answers 429, the sender holds the number. */
int
graph_err_is_rate_limit(const struct graph_err *e)
{
	switch (e->code) {
	case 4:
	case 17:
	case 32:
	case 613:
	case 130429:
	case 131048: /* spam rate limit: the number's quality holds sends */
	case 131056:
		return 1;
	default:
		/* 80000-80014: business use case limits, among them the
		   catalog's (80009) and its batch uploads' (80014). */
		return (e->code >= 80000 && e->code <= 80014) ||
		    e->http_status == 429;
	}
}

const char *
graph_err_trace(const struct graph_err *e)
{
	return e->fbtrace_id[0] != '\0' ? e->fbtrace_id : "-";
}

const char *
graph_reason_190(long subcode)
{
	/* Graph "Handling Errors", authentication error subcodes. */
	switch (subcode) {
	case 458:
		return "the app was removed from the business";
	case 459:
		return "the Facebook account is locked until its owner "
		       "logs in to Facebook";
	case 460:
		return "the Facebook password was changed";
	case 463:
		return "the access token expired";
	case 464:
		return "the Facebook user is not confirmed";
	case 467:
		return "the access token is no longer valid (the user logged "
		       "out)";
	case 492:
		return "the user no longer has a role in the business";
	default:
		return "Meta no longer accepts the access token";
	}
}

int
graph_err_is_token(const struct graph_err *err)
{
	/* 102 API Session: "the login status or access token has expired,
	   been revoked, or is otherwise invalid", like 190. */
	return err != NULL && (err->code == 190 || err->code == 102);
}

/* --- 2xx answers ---------------------------------------------------------- */

/* Root object of a 2xx answer, or NULL after gp_bad. */
struct json_object *
gp_root(const char *body, size_t len, struct graph_err *err)
{
	struct json_object *root;

	if ((root = gp_parse(body, len)) == NULL) {
		gp_bad(err, "Meta's answer is not JSON");
		return NULL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		gp_bad(err, "Meta's answer is not a JSON object");
		return NULL;
	}
	return root;
}

int
graph_parse_access_token(const char *body, size_t len, struct buf *tok,
    long *expires_in, struct graph_err *err)
{
	struct json_object *root, *v;
	const char         *s;
	size_t              n, i;
	int                 rc = -1;

	buf_free_secret(tok);
	*expires_in = 0;
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((s = jx_str(root, "access_token", &n)) == NULL || n == 0 ||
	    n > GP_TOKEN_MAX) {
		gp_missing(err, "access_token", "a string");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f) {
			gp_bad(err,
			    "Meta's \"access_token\" has characters "
			    "a token cannot have");
			goto out;
		}
	if ((v = jx_get(root, "expires_in", json_type_int)) != NULL)
		*expires_in = (long)json_object_get_int64(v);
	else if (!jx_absent(root, "expires_in")) {
		gp_missing(err, "expires_in", "a number");
		goto out;
	}
	if (*expires_in < 0) {
		gp_missing(err, "expires_in", "a number of seconds");
		goto out;
	}
	if (buf_append(tok, s, n) == -1) {
		gp_bad(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	/* json-c's copy of the token is writable memory the tree owns;
	   wipe it before the tree is freed. */
	if ((v = jx_get(root, "access_token", json_type_string)) != NULL)
		sodium_memzero((char *)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	if (rc == -1) {
		buf_free_secret(tok);
		*expires_in = 0;
	}
	json_object_put(root);
	return rc;
}

/* Appends s to the comma-separated list dst; -1 when it does not fit. */
static int
gp_list_add(char *dst, size_t size, const char *s)
{
	size_t have = strlen(dst), n = strlen(s);

	if (have + (have > 0) + n >= size)
		return -1;
	if (have > 0)
		dst[have++] = ',';
	memcpy(dst + have, s, n + 1);
	return 0;
}

static int
gp_list_has(const char *list, const char *s)
{
	size_t n = strlen(s);

	for (;;) {
		if (strncmp(list, s, n) == 0 &&
		    (list[n] == ',' || list[n] == '\0'))
			return 1;
		if ((list = strchr(list, ',')) == NULL)
			return 0;
		list++;
	}
}

int
graph_token_has_waba(const struct graph_token_info *ti, const char *waba_id)
{
	return waba_id != NULL && *waba_id != '\0' && ti->waba_ids[0] != '\0' &&
	    gp_list_has(ti->waba_ids, waba_id);
}

/*
 * granular_scopes[]: {"scope", "target_ids"?}. The WABAs the business
 * shared are the target_ids of whatsapp_business_management ("Embedded
 * Signup: ... call debug_token ... granular_scopes").
 */
static int
gp_granular(struct json_object *data, struct graph_token_info *ti,
    struct graph_err *err)
{
	struct json_object *gs, *g, *ids, *idv;
	const char         *scope, *id;
	size_t              i, j;

	if ((gs = jx_get(data, "granular_scopes", json_type_array)) == NULL)
		return jx_absent(data, "granular_scopes")
		    ? 0
		    : gp_missing(err, "data.granular_scopes", "an array");
	for (i = 0; i < json_object_array_length(gs); i++) {
		g = json_object_array_get_idx(gs, i);
		if (g == NULL || !json_object_is_type(g, json_type_object) ||
		    (scope = jx_str(g, "scope", NULL)) == NULL)
			return gp_missing(err, "data.granular_scopes[].scope",
			    "a string");
		if ((ids = jx_get(g, "target_ids", json_type_array)) == NULL) {
			if (!jx_absent(g, "target_ids"))
				return gp_missing(err,
				    "data.granular_scopes[]"
				    ".target_ids",
				    "an array");
			continue;
		}
		if (strcmp(scope, "whatsapp_business_management") != 0)
			continue;
		for (j = 0; j < json_object_array_length(ids); j++) {
			idv = json_object_array_get_idx(ids, j);
			if (idv == NULL ||
			    !json_object_is_type(idv, json_type_string) ||
			    !gp_is_id(id = json_object_get_string(idv), 33))
				return gp_missing(err,
				    "data.granular_scopes[]"
				    ".target_ids[]",
				    "an id string");
			if (gp_list_has(ti->waba_ids, id))
				continue;
			if (gp_list_add(ti->waba_ids, sizeof(ti->waba_ids),
			        id) == -1)
				return gp_bad(err,
				    "Meta's answer lists more "
				    "WhatsApp Business Accounts than we keep");
			ti->nwaba++;
		}
	}
	return 0;
}

int
graph_parse_token_info(const char *body, size_t len,
    struct graph_token_info *ti, struct graph_err *err)
{
	struct json_object *root, *data, *v, *e;
	const char         *s;
	size_t              i;
	int                 rc = -1;

	memset(ti, 0, sizeof(*ti));
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((data = jx_get(root, "data", json_type_object)) == NULL) {
		gp_missing(err, "data", "an object");
		goto out;
	}
	if ((v = jx_get(data, "is_valid", json_type_boolean)) == NULL) {
		gp_missing(err, "data.is_valid", "true or false");
		goto out;
	}
	ti->is_valid = json_object_get_boolean(v);
	if ((v = jx_get(data, "expires_at", json_type_int)) != NULL)
		ti->expires_at = json_object_get_int64(v);
	else if (!jx_absent(data, "expires_at")) {
		gp_missing(err, "data.expires_at", "a number");
		goto out;
	}
	if ((v = jx_get(data, "scopes", json_type_array)) != NULL) {
		for (i = 0; i < json_object_array_length(v); i++) {
			e = json_object_array_get_idx(v, i);
			if (e == NULL ||
			    !json_object_is_type(e, json_type_string) ||
			    strchr(s = json_object_get_string(e), ',') !=
			        NULL) {
				gp_missing(err, "data.scopes[]", "a string");
				goto out;
			}
			if (gp_list_add(ti->scopes, sizeof(ti->scopes), s) ==
			    -1) {
				gp_bad(err,
				    "Meta's answer lists more scopes "
				    "than we keep");
				goto out;
			}
		}
	} else if (!jx_absent(data, "scopes")) {
		gp_missing(err, "data.scopes", "an array");
		goto out;
	}
	if (gp_granular(data, ti, err) == -1)
		goto out;
	/* A token Meta no longer accepts: keep why, leniently. */
	if ((e = jx_get(data, "error", json_type_object)) != NULL) {
		ti->error_code = gp_long_lenient(e, "code");
		ti->error_subcode = gp_long_lenient(e, "subcode");
		gp_copy_lenient(e, "message", ti->error_message,
		    sizeof(ti->error_message));
	}
	rc = 0;
out:
	if (rc == -1)
		memset(ti, 0, sizeof(*ti));
	json_object_put(root);
	return rc;
}

/* An optional string member into dst; absent or null leaves "". */
int
gp_opt_copy(struct json_object *o, const char *key, char *dst, size_t size,
    const char *field, struct graph_err *err)
{
	const char *s;

	dst[0] = '\0';
	if ((s = jx_str(o, key, NULL)) != NULL)
		jx_copy(dst, size, s);
	else if (!jx_absent(o, key))
		return gp_missing(err, field, "a string");
	return 0;
}

/* An optional boolean: absent is 0, another type an error. */
static int
gp_opt_bool(struct json_object *o, const char *key, int *dst, const char *field,
    struct graph_err *err)
{
	struct json_object *v;

	*dst = 0;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return gp_missing(err, field, "a boolean");
	*dst = json_object_get_boolean(v);
	return 0;
}

/* One WhatsAppBusinessPhoneNumber node; where names it in messages. */
int
gp_phone(struct json_object *o, struct graph_phone *p, const char *where,
    struct graph_err *err)
{
	const char *s;
	char        f[64];

	memset(p, 0, sizeof(*p));
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		/* where is "data[]." here: name the element, not its dot */
		snprintf(f, sizeof(f), "%.*s", (int)strcspn(where, "."), where);
		return gp_missing(err, f, "an object");
	}
	snprintf(f, sizeof(f), "%sid", where);
	if ((s = jx_str(o, "id", NULL)) == NULL || !gp_is_id(s, sizeof(p->id)))
		return gp_missing(err, f, "an id string");
	memcpy(p->id, s, strlen(s) + 1);
	snprintf(f, sizeof(f), "%sdisplay_phone_number", where);
	if ((s = jx_str(o, "display_phone_number", NULL)) == NULL)
		return gp_missing(err, f, "a string");
	jx_copy(p->display_phone_number, sizeof(p->display_phone_number), s);
	snprintf(f, sizeof(f), "%sverified_name", where);
	if (gp_opt_copy(o, "verified_name", p->verified_name,
	        sizeof(p->verified_name), f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%squality_rating", where);
	if (gp_opt_copy(o, "quality_rating", p->quality_rating,
	        sizeof(p->quality_rating), f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%sstatus", where);
	if (gp_opt_copy(o, "status", p->status, sizeof(p->status), f, err) ==
	    -1)
		return -1;
	snprintf(f, sizeof(f), "%scode_verification_status", where);
	if (gp_opt_copy(o, "code_verification_status",
	        p->code_verification_status,
	        sizeof(p->code_verification_status), f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%sname_status", where);
	if (gp_opt_copy(o, "name_status", p->name_status,
	        sizeof(p->name_status), f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%smessaging_limit_tier", where);
	if (gp_opt_copy(o, "messaging_limit_tier", p->messaging_limit_tier,
	        sizeof(p->messaging_limit_tier), f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%splatform_type", where);
	if (gp_opt_copy(o, "platform_type", p->platform_type,
	        sizeof(p->platform_type), f, err) == -1)
		return -1;
	snprintf(f, sizeof(f), "%sis_on_biz_app", where);
	return gp_opt_bool(o, "is_on_biz_app", &p->on_biz_app, f, err);
}

int
graph_parse_phone(const char *body, size_t len, struct graph_phone *p,
    struct graph_err *err)
{
	struct json_object *root;
	int                 rc;

	memset(p, 0, sizeof(*p));
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	rc = gp_phone(root, p, "", err);
	json_object_put(root);
	return rc;
}

/*
 * Graph cursor paging: "next" is present only when there is another
 * page, and cursors.after names it (Graph API "Paginated Results").
 */
int
graph_parse_phones(const char *body, size_t len, struct graph_phone **list,
    size_t *n, char *after, struct graph_err *err)
{
	struct json_object *root, *data, *paging, *cur;
	struct graph_phone  p, *nl;
	const char         *s;
	size_t              i, cnt;
	int                 rc = -1;

	after[0] = '\0';
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((data = jx_get(root, "data", json_type_array)) == NULL) {
		gp_missing(err, "data", "an array");
		goto out;
	}
	cnt = json_object_array_length(data);
	for (i = 0; i < cnt && *n < GRAPH_PHONES_MAX; i++) {
		if (gp_phone(json_object_array_get_idx(data, i), &p, "data[].",
		        err) == -1)
			goto out;
		/* *n <= GRAPH_PHONES_MAX: the size cannot overflow. */
		if ((nl = realloc(*list, (*n + 1) * sizeof(**list))) == NULL) {
			gp_bad(err, "out of memory");
			goto out;
		}
		*list = nl;
		(*list)[(*n)++] = p;
	}
	if ((paging = jx_get(root, "paging", json_type_object)) == NULL) {
		if (!jx_absent(root, "paging")) {
			gp_missing(err, "paging", "an object");
			goto out;
		}
	} else if (!jx_absent(paging, "next") && *n < GRAPH_PHONES_MAX) {
		cur = jx_get(paging, "cursors", json_type_object);
		if ((s = jx_str(cur, "after", NULL)) == NULL || *s == '\0' ||
		    strlen(s) >= GRAPH_CURSOR_MAX) {
			gp_missing(err, "paging.cursors.after", "a string");
			goto out;
		}
		memcpy(after, s, strlen(s) + 1);
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

int
graph_parse_success(const char *body, size_t len, struct graph_err *err)
{
	struct json_object *root, *v;
	int                 rc = -1;

	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((v = jx_get(root, "success", json_type_boolean)) == NULL)
		gp_missing(err, "success", "true or false");
	else if (!json_object_get_boolean(v))
		gp_bad(err, "Meta answered \"success\": false");
	else
		rc = 0;
	json_object_put(root);
	return rc;
}

int
graph_parse_message_id(const char *body, size_t len, char message_id[256],
    struct graph_err *err)
{
	struct json_object *root, *msgs;
	const char         *s;
	size_t              n;
	int                 rc = -1;

	message_id[0] = '\0';
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((msgs = jx_get(root, "messages", json_type_array)) == NULL ||
	    json_object_array_length(msgs) == 0) {
		gp_missing(err, "messages", "a non-empty array");
		goto out;
	}
	/* A wamid is an id: refuse, never truncate, one that does not fit. */
	if ((s = jx_str(json_object_array_get_idx(msgs, 0), "id", &n)) ==
	        NULL ||
	    n == 0 || n >= 256) {
		gp_missing(err, "messages[0].id", "a message id string");
		goto out;
	}
	memcpy(message_id, s, n + 1);
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

/*
 * Meta's answer to a send: {"messaging_product","contacts":[{"input",
 * "wa_id"}],"messages":[{"id"}]}. The id is required; contacts[0].wa_id
 * may be missing (a send to a business-scoped user id need not have
 * one): wa_id is then "".
 */
int
graph_parse_sent(const char *body, size_t len, struct graph_sent *out,
    struct graph_err *err)
{
	struct json_object *root, *c;
	const char         *s;
	size_t              n;

	memset(out, 0, sizeof(*out));
	if (graph_parse_message_id(body, len, out->message_id, err) == -1)
		return -1;
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((c = jx_get(root, "contacts", json_type_array)) != NULL &&
	    json_object_array_length(c) > 0 &&
	    (s = jx_str(json_object_array_get_idx(c, 0), "wa_id", &n)) !=
	        NULL &&
	    n > 0 && n < sizeof(out->wa_id))
		memcpy(out->wa_id, s, n + 1);
	json_object_put(root);
	return 0;
}

int
graph_parse_request_id(const char *body, size_t len,
    char request_id[GRAPH_REQUEST_ID_MAX], struct graph_err *err)
{
	struct json_object *root;
	const char         *s;
	size_t              n;
	int                 rc = -1;

	request_id[0] = '\0';
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	/* It reaches our logs: an id-like word, refused rather than cut. */
	if ((s = jx_str(root, "request_id", &n)) == NULL || n == 0 ||
	    n >= GRAPH_REQUEST_ID_MAX ||
	    strspn(s,
	        "0123456789"
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-") != n)
		gp_missing(err, "request_id", "a request id string");
	else {
		memcpy(request_id, s, n + 1);
		rc = 0;
	}
	json_object_put(root);
	return rc;
}

int
graph_parse_catalog(const char *body, size_t len, char name[201],
    struct graph_err *err)
{
	struct json_object *root;
	const char         *s;
	int                 rc = -1;

	name[0] = '\0';
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((s = jx_str(root, "name", NULL)) == NULL)
		gp_missing(err, "name", "a string");
	else {
		jx_copy(name, 201, s);
		rc = 0;
	}
	json_object_put(root);
	return rc;
}
