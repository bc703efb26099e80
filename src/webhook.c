/*
 * webhook: Meta's WhatsApp Business webhook deliveries, checked and
 * parsed at the edge (doc/architecture.md, The webhook path). Every field
 * used is type- and length-checked. Only a body that is not a delivery
 * fails as a whole; an entry, change or item lacking what we need is
 * skipped and counted, because Meta redelivers what we refuse for days,
 * and one odd item must not hold back the good ones next to it.
 *
 * References: WhatsApp Cloud API webhooks reference, "messages",
 * "account_update", and for numbers also on the WhatsApp Business app
 * (coexistence) "smb_message_echoes", "smb_app_state_sync" and "history"
 * (developers.facebook.com/documentation/business-messaging/whatsapp/
 * webhooks/reference/); Graph API Webhooks, "Validating Payloads";
 * RFC 8259.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "buf.h"
#include "jsonx.h"
#include "webhook.h"

/* Meta's deliveries nest 11 levels at most (status → errors → error_data). */
#define WH_DEPTH      16
#define WH_SIG_PREFIX "sha256="
#define WH_MAC        crypto_auth_hmacsha256_BYTES
#define WH_SIG_HEX    (2 * WH_MAC)
#define WH_DIGITS     "0123456789"
#define WH_N(a)       (sizeof(a) / sizeof((a)[0]))
#define WH_NAME \
	WH_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	          "abcdefghijklmnopqrstuvwxyz._-+/="

struct wh_ctx {
	struct webhook_batch *out;
	size_t                cap;
	char                 *err;
	size_t                errlen;
	int                   nomem; /* the refusal is ours, not Meta's */
	size_t                len;   /* the body's: what a kept part may be */
};

static void __attribute__((format(printf, 3, 4)))
wh_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Meta signs the exact body bytes with the app secret as HMAC key, which
 * has no fixed length: hence init/update/final, not the one-shot call
 * that wants 32 bytes. sodium_hex2bin takes either case and stops at the
 * first non-hex character, which the end check turns into a refusal.
 */
int
webhook_signature_ok(const char *app_secret, const char *header,
    const void *body, size_t len)
{
	crypto_auth_hmacsha256_state st;
	unsigned char                want[WH_MAC], got[WH_MAC];
	const char                  *hex, *end;
	size_t                       binlen;
	int                          ok;

	/* An empty secret is a configuration mistake, never a valid key. */
	if (app_secret == NULL || *app_secret == '\0' || header == NULL ||
	    (body == NULL && len > 0))
		return 0;
	if (strncmp(header, WH_SIG_PREFIX, sizeof(WH_SIG_PREFIX) - 1) != 0)
		return 0;
	hex = header + sizeof(WH_SIG_PREFIX) - 1;
	if (strnlen(hex, WH_SIG_HEX + 1) != WH_SIG_HEX)
		return 0;
	if (sodium_hex2bin(got, sizeof(got), hex, WH_SIG_HEX, NULL, &binlen,
	        &end) != 0 ||
	    binlen != sizeof(got) || end != hex + WH_SIG_HEX)
		return 0;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)app_secret,
	    strlen(app_secret));
	crypto_auth_hmacsha256_update(&st, body != NULL ? body : "", len);
	crypto_auth_hmacsha256_final(&st, want);
	ok = sodium_memcmp(want, got, sizeof(want)) == 0;
	/* The state holds the key-derived pads. */
	sodium_memzero(&st, sizeof(st));
	return ok;
}

/*
 * Identifiers are refused, never cut, when they do not fit: a cut id is
 * another id. Graph ids and WhatsApp ids (phone numbers) are decimal;
 * wamids (base64 after "wamid."), status, type and event names are
 * WH_NAME. Both end up in logs, URLs and database keys.
 */
static int
wh_id(char *dst, size_t size, const char *s, const char *charset)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= size ||
	    strspn(s, charset) != n)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

/*
 * Unix time, as a decimal string (messages[].timestamp) or a number
 * (entry.time). Anything else is 0 ("absent"): no reason to drop a message.
 */
static int64_t
wh_time(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char         *s;
	int64_t             t;

	if ((v = jx_get(o, key, json_type_int)) != NULL) {
		t = json_object_get_int64(v);
		return t > 0 ? t : 0;
	}
	if ((s = jx_str(o, key, NULL)) == NULL || *s == '\0' ||
	    strspn(s, WH_DIGITS) != strlen(s) || strlen(s) > 18)
		return 0;
	return (int64_t)strtoll(s, NULL, 10);
}

/* An error object's code, if any, and words ("message", else "title"). */
static void
wh_error_detail(struct webhook_event *ev, struct json_object *e)
{
	struct json_object *code;
	const char         *s;

	if ((code = jx_get(e, "code", json_type_int)) != NULL)
		ev->code = (long)json_object_get_int64(code);
	if ((s = jx_str(e, "message", NULL)) == NULL || *s == '\0')
		s = jx_str(e, "title", NULL);
	if (s != NULL)
		jx_copy(ev->text, sizeof(ev->text), s);
}

static int
wh_push(struct wh_ctx *c, const struct webhook_event *ev)
{
	struct webhook_batch *b = c->out;
	struct webhook_event *p;
	size_t                ncap;

	if (b->n >= WEBHOOK_MAX_EVENTS) {
		wh_err(c->err, c->errlen, "more than %d events in one delivery",
		    WEBHOOK_MAX_EVENTS);
		return -1;
	}
	if (b->n == c->cap) {
		ncap = c->cap == 0 ? 8 : c->cap * 2;
		if (ncap > WEBHOOK_MAX_EVENTS)
			ncap = WEBHOOK_MAX_EVENTS;
		if ((p = realloc(b->ev, ncap * sizeof(*p))) == NULL) {
			wh_err(c->err, c->errlen, "out of memory");
			c->nomem = 1;
			return -1;
		}
		b->ev = p;
		c->cap = ncap;
	}
	b->ev[b->n++] = *ev;
	return 0;
}

static void
wh_ev_free(struct webhook_event *ev)
{
	free(ev->object);
	free(ev->metadata);
	free(ev->contact);
	ev->object = ev->metadata = ev->contact = NULL;
}

/*
 * o as JSON text for the event to own, in *out (NULL when o is NULL).
 * json-c writes Meta's object back member by member, values as parsed
 * (strings, numbers, nesting), so the feed hands out what Meta sent.
 * A part is never longer than the delivery it came in, which the
 * webhook body limit bounds; should the serialization be (it cannot
 * grow by more than number spellings), the part is left out and the
 * feed rebuilds a minimal one, rather than storing more than the limit.
 */
static int
wh_dump(struct wh_ctx *c, struct json_object *o, char **out)
{
	const char *s;
	size_t      n;

	*out = NULL;
	if (o == NULL)
		return 0;
	if ((s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	    NULL)
		goto nomem;
	if ((n = strlen(s)) > c->len)
		return 0;
	if ((*out = malloc(n + 1)) == NULL)
		goto nomem;
	memcpy(*out, s, n + 1);
	return 0;
nomem:
	wh_err(c->err, c->errlen, "out of memory");
	c->nomem = 1;
	return -1;
}

/*
 * The sender's value.contacts[] entry: the one whose wa_id (or, for a
 * user whose number Meta withholds, user_id) is the message's sender;
 * else, when there is just one entry, that one (Meta sends one contact
 * per change for a single message). NULL when none fits.
 */
static struct json_object *
wh_contact_of(struct json_object *value, const char *from)
{
	struct json_object *arr, *ct;
	const char         *id;
	size_t              i, n;

	if ((arr = jx_get(value, "contacts", json_type_array)) == NULL ||
	    (n = json_object_array_length(arr)) == 0)
		return NULL;
	for (i = 0; i < n; i++) {
		ct = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(ct, json_type_object))
			continue;
		if (((id = jx_str(ct, "wa_id", NULL)) != NULL &&
		        strcmp(id, from) == 0) ||
		    ((id = jx_str(ct, "user_id", NULL)) != NULL &&
		        strcmp(id, from) == 0))
			return ct;
	}
	ct = json_object_array_get_idx(arr, 0);
	return n == 1 && json_object_is_type(ct, json_type_object) ? ct : NULL;
}

/* The item, the change's metadata and (messages) the sender, kept whole. */
static int
wh_keep(struct wh_ctx *c, struct webhook_event *ev, struct json_object *item,
    struct json_object *value)
{
	if (wh_dump(c, item, &ev->object) == -1 ||
	    wh_dump(c, jx_get(value, "metadata", json_type_object),
	        &ev->metadata) == -1 ||
	    (ev->kind == WEBHOOK_MESSAGE &&
	        wh_dump(c, wh_contact_of(value, ev->from), &ev->contact) ==
	            -1)) {
		wh_ev_free(ev);
		return -1;
	}
	return 0;
}

/*
 * A business-scoped user id: an ISO country code, ".", an optional
 * "ENT." (a parent id shared across portfolios), then up to 128
 * alphanumerics (Meta, "Business-scoped user IDs").
 */
static int
wh_bsuid(char *dst, size_t size, const char *s)
{
	const char *p;
	size_t      n;

	if (s == NULL || strlen(s) < 4 || s[0] < 'A' || s[0] > 'Z' ||
	    s[1] < 'A' || s[1] > 'Z' || s[2] != '.')
		return -1;
	p = s + 3;
	if (strncmp(p, "ENT.", 4) == 0)
		p += 4;
	n = strspn(p,
	    WH_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	              "abcdefghijklmnopqrstuvwxyz");
	if (n == 0 || n > 128 || p[n] != '\0')
		return -1;
	return wh_id(dst, size, s, WH_NAME);
}

/*
 * A customer as Meta names them: a number in key (digits, at most 32),
 * or, when Meta withholds it (users with a username), a business-scoped
 * user id in idkey. -1 when neither fits.
 */
static int
wh_party(char *dst, size_t size, struct json_object *o, const char *key,
    const char *idkey)
{
	if (jx_absent(o, key))
		return wh_bsuid(dst, size, jx_str(o, idkey, NULL));
	if (wh_id(dst, size, jx_str(o, key, NULL), WH_DIGITS) == -1 ||
	    strlen(dst) > 32)
		return -1;
	return 0;
}

/* messages[]: an inbound message. -1 when it lacks a required field. */
static int
wh_message(struct webhook_event *ev, struct json_object *m)
{
	struct json_object *t;
	const char         *s;

	ev->kind = WEBHOOK_MESSAGE;
	if (wh_id(ev->id, sizeof(ev->id), jx_str(m, "id", NULL), WH_NAME) == -1)
		return -1;
	if (wh_party(ev->from, sizeof(ev->from), m, "from", "from_user_id") ==
	    -1)
		return -1;
	/* Meta always names the type; a wrong one is not a message we know. */
	if (!jx_absent(m, "type") &&
	    wh_id(ev->type, sizeof(ev->type), jx_str(m, "type", NULL),
	        WH_NAME) == -1)
		return -1;
	ev->timestamp = wh_time(m, "timestamp");
	if (strcmp(ev->type, "text") == 0 &&
	    (t = jx_get(m, "text", json_type_object)) != NULL &&
	    (s = jx_str(t, "body", NULL)) != NULL)
		jx_copy(ev->text, sizeof(ev->text), s);
	return 0;
}

/* statuses[]: what became of a message we sent. */
static int
wh_status(struct webhook_event *ev, struct json_object *st)
{
	struct json_object *errs, *e;

	ev->kind = WEBHOOK_STATUS;
	if (wh_id(ev->id, sizeof(ev->id), jx_str(st, "id", NULL), WH_NAME) ==
	        -1 ||
	    wh_id(ev->status, sizeof(ev->status), jx_str(st, "status", NULL),
	        WH_NAME) == -1)
		return -1;
	if (!jx_absent(st, "recipient_id") &&
	    (wh_id(ev->from, sizeof(ev->from), jx_str(st, "recipient_id", NULL),
	         WH_DIGITS) == -1 ||
	        strlen(ev->from) > 32))
		return -1;
	ev->timestamp = wh_time(st, "timestamp");
	if (strcmp(ev->status, "failed") != 0)
		return 0;
	/* A failure is kept even when its error object is odd. */
	if ((errs = jx_get(st, "errors", json_type_array)) != NULL &&
	    json_object_array_length(errs) > 0 &&
	    (e = json_object_array_get_idx(errs, 0)) != NULL &&
	    json_object_is_type(e, json_type_object))
		wh_error_detail(ev, e);
	return 0;
}

/* value.errors[]: a problem Meta reports outside of any one message. */
static int
wh_error(struct webhook_event *ev, struct json_object *e)
{
	ev->kind = WEBHOOK_ERROR;
	if (jx_get(e, "code", json_type_int) == NULL)
		return -1;
	wh_error_detail(ev, e);
	return 0;
}

/*
 * A count or index that Meta sends as a number or, in some captures, as
 * a string of digits; -1 when absent or anything else.
 */
static long long
wh_num(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char         *s;

	if ((v = jx_get(o, key, json_type_int)) != NULL)
		return json_object_get_int64(v) >= 0 ? json_object_get_int64(v)
		                                     : -1;
	if ((s = jx_str(o, key, NULL)) == NULL || *s == '\0' ||
	    strspn(s, WH_DIGITS) != strlen(s) || strlen(s) > 18)
		return -1;
	return strtoll(s, NULL, 10);
}

/*
 * message_echoes[] (field smb_message_echoes): a message the merchant
 * sent from the WhatsApp Business app, which Cloud API did not send.
 * Its summary names the customer it went to.
 */
static int
wh_echo(struct webhook_event *ev, struct json_object *m)
{
	struct json_object *t;
	const char         *s = NULL;
	char                tmp[1200];

	ev->kind = WEBHOOK_ECHO;
	if (wh_id(ev->id, sizeof(ev->id), jx_str(m, "id", NULL), WH_NAME) ==
	        -1 ||
	    wh_id(ev->from, sizeof(ev->from), jx_str(m, "from", NULL),
	        WH_DIGITS) == -1 ||
	    strlen(ev->from) > 32)
		return -1;
	/* The customer. */
	if (wh_party(ev->to, sizeof(ev->to), m, "to", "to_user_id") == -1)
		return -1;
	if (!jx_absent(m, "type") &&
	    wh_id(ev->type, sizeof(ev->type), jx_str(m, "type", NULL),
	        WH_NAME) == -1)
		return -1;
	ev->timestamp = wh_time(m, "timestamp");
	if (strcmp(ev->type, "text") == 0 &&
	    (t = jx_get(m, "text", json_type_object)) != NULL)
		s = jx_str(t, "body", NULL);
	if (s != NULL)
		snprintf(tmp, sizeof(tmp), "to %s: %s", ev->to, s);
	else
		snprintf(tmp, sizeof(tmp), "to %s: (%s)", ev->to,
		    *ev->type ? ev->type : "unknown");
	jx_copy(ev->text, sizeof(ev->text), tmp);
	return 0;
}

/*
 * state_sync[] (field smb_app_state_sync): a contact of the WhatsApp
 * Business app added (or edited: also "add") or removed; the name is
 * absent on removal.
 */
static int
wh_state_sync(struct webhook_event *ev, struct json_object *it)
{
	struct json_object *ct;
	const char         *name;
	char                tmp[1200];

	ev->kind = WEBHOOK_STATE_SYNC;
	if (wh_id(ev->type, sizeof(ev->type), jx_str(it, "type", NULL),
	        WH_NAME) == -1 ||
	    wh_id(ev->status, sizeof(ev->status), jx_str(it, "action", NULL),
	        WH_NAME) == -1 ||
	    (ct = jx_get(it, "contact", json_type_object)) == NULL ||
	    wh_id(ev->from, sizeof(ev->from), jx_str(ct, "phone_number", NULL),
	        WH_DIGITS) == -1 ||
	    strlen(ev->from) > 32)
		return -1;
	ev->timestamp = wh_time(jx_get(it, "metadata", json_type_object),
	    "timestamp");
	if ((name = jx_str(ct, "full_name", NULL)) != NULL && *name != '\0')
		snprintf(tmp, sizeof(tmp), "%s %s: %s", ev->status, ev->type,
		    name);
	else
		snprintf(tmp, sizeof(tmp), "%s %s", ev->status, ev->type);
	jx_copy(ev->text, sizeof(ev->text), tmp);
	return 0;
}

/*
 * history[] (field history): one chunk of the app's chats, kept as a
 * summary (phase 0 the last day, 1 up to 90 days, 2 up to 180; progress
 * in percent), or the error that ends the sync (2593109: the business
 * chose not to share its chats).
 */
static int
wh_history(struct webhook_event *ev, struct json_object *it)
{
	struct json_object *errs, *e, *md, *threads, *th, *msgs;
	long long           phase, chunk, progress;
	size_t              i, n, nmsg = 0;
	char                tmp[1200];

	ev->kind = WEBHOOK_HISTORY;
	if ((errs = jx_get(it, "errors", json_type_array)) != NULL &&
	    json_object_array_length(errs) > 0) {
		e = json_object_array_get_idx(errs, 0);
		if (jx_get(e, "code", json_type_int) == NULL)
			return -1;
		wh_error_detail(ev, e);
		snprintf(tmp, sizeof(tmp), "error %ld: %s", ev->code, ev->text);
		jx_copy(ev->text, sizeof(ev->text), tmp);
		return 0;
	}
	if ((md = jx_get(it, "metadata", json_type_object)) == NULL ||
	    (phase = wh_num(md, "phase")) < 0)
		return -1;
	chunk = wh_num(md, "chunk_order");
	progress = wh_num(md, "progress");
	n = 0;
	if ((threads = jx_get(it, "threads", json_type_array)) != NULL) {
		n = json_object_array_length(threads);
		for (i = 0; i < n; i++)
			if ((th = json_object_array_get_idx(threads, i)) !=
			        NULL &&
			    (msgs = jx_get(th, "messages", json_type_array)) !=
			        NULL)
				nmsg += json_object_array_length(msgs);
	}
	snprintf(tmp, sizeof(tmp),
	    "phase %lld, chunk %lld, progress %lld%%: "
	    "%zu threads, %zu messages",
	    phase, chunk, progress, n, nmsg);
	jx_copy(ev->text, sizeof(ev->text), tmp);
	return 0;
}

/* One list of a change's value, and what each of its items becomes. */
struct wh_list {
	const char *key;
	int (*item)(struct webhook_event *, struct json_object *);
};

/*
 * A change about one number (value.metadata.phone_number_id): each item
 * of each list becomes an event. Field "messages" may carry messages,
 * statuses and errors in one value; the coexistence fields one list each.
 */
static int
wh_number_change(struct wh_ctx *c, const char *waba, struct json_object *value,
    const struct wh_list *lists, size_t nlists)
{
	struct webhook_event ev, base;
	struct json_object  *arr, *it;
	size_t               i, j, n;

	memset(&base, 0, sizeof(base));
	memcpy(base.waba_id, waba, strlen(waba) + 1);
	if (wh_id(base.phone_number_id, sizeof(base.phone_number_id),
	        jx_str(jx_get(value, "metadata", json_type_object),
	            "phone_number_id", NULL),
	        WH_DIGITS) == -1) {
		c->out->skipped++;
		return 0;
	}
	for (i = 0; i < nlists; i++) {
		if (jx_absent(value, lists[i].key))
			continue;
		if ((arr = jx_get(value, lists[i].key, json_type_array)) ==
		    NULL) {
			c->out->skipped++;
			continue;
		}
		n = json_object_array_length(arr);
		for (j = 0; j < n; j++) {
			it = json_object_array_get_idx(arr, j);
			ev = base;
			if (it == NULL ||
			    !json_object_is_type(it, json_type_object) ||
			    lists[i].item(&ev, it) == -1) {
				c->out->skipped++;
				continue;
			}
			if (wh_keep(c, &ev, it, value) == -1)
				return -1;
			if (wh_push(c, &ev) == -1) {
				wh_ev_free(&ev);
				return -1;
			}
		}
	}
	return 0;
}

static const struct wh_list wh_messages[] = {
	{ "messages", wh_message },
	{ "statuses", wh_status },
	{ "errors", wh_error },
};
static const struct wh_list wh_echoes[] = {
	{ "message_echoes", wh_echo },
};
static const struct wh_list wh_state[] = {
	{ "state_sync", wh_state_sync },
};
static const struct wh_list wh_chats[] = {
	{ "history", wh_history },
};

/* The fields about one number, and their lists. */
static const struct {
	const char           *field;
	const struct wh_list *lists;
	size_t                n;
} wh_fields[] = {
	{ "messages", wh_messages, WH_N(wh_messages) },
	{ "smb_message_echoes", wh_echoes, WH_N(wh_echoes) },
	{ "smb_app_state_sync", wh_state, WH_N(wh_state) },
	{ "history", wh_chats, WH_N(wh_chats) },
};

/* A token from Meta's payload fit for a summary, or "unknown". */
static const char *
wh_word(struct json_object *o, const char *key)
{
	char        tmp[64];
	const char *s = jx_str(o, key, NULL);

	return wh_id(tmp, sizeof(tmp), s, WH_NAME) == 0 ? s : "unknown";
}

/*
 * restriction_info[]: what is restricted and until when, a Unix time
 * (Meta's reference, shown in UTC) or a date string (seen in the wild).
 * *until: the latest Unix expiration, 0 when one of them has none we
 * can read (then nobody can say when the restriction ends).
 */
static void
wh_restrictions(struct buf *b, struct json_object *value, int64_t *until)
{
	struct json_object *arr, *r;
	const char         *s;
	char                when[32];
	struct tm           tm;
	time_t              t;
	size_t              i, n, shown = 0;
	int64_t             last = 0;
	int                 open = 0;

	*until = 0;
	if ((arr = jx_get(value, "restriction_info", json_type_array)) == NULL)
		return;
	/*
	 * Meta lists the restrictions in force; an empty list says there
	 * are none left (webhook_event_standing: lifted). An absent list
	 * says nothing, and is kept as a restriction of unknown end.
	 */
	if ((n = json_object_array_length(arr)) == 0) {
		buf_puts(b, ": none");
		return;
	}
	/* The summary is cut at 1024 bytes anyway. */
	for (i = 0; i < n && b->len < 1024; i++) {
		r = json_object_array_get_idx(arr, i);
		if (r == NULL || !json_object_is_type(r, json_type_object))
			continue;
		buf_printf(b, "%s %s", shown++ == 0 ? ":" : ",",
		    wh_word(r, "restriction_type"));
		if ((t = (time_t)wh_time(r, "expiration")) <= 0)
			open = 1;
		else if ((int64_t)t > last)
			last = (int64_t)t;
		if (t > 0 && gmtime_r(&t, &tm) != NULL &&
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm) > 0)
			buf_printf(b, " until %s", when);
		else if ((s = jx_str(r, "expiration", NULL)) != NULL)
			buf_printf(b, " until %s", s);
	}
	/* Not "none": a list we cannot read is not an empty one. */
	if (shown == 0)
		buf_puts(b, ": unreadable");
	/* Items not looked at may last longer. */
	*until = open || shown == 0 || i < n ? 0 : last;
}

/*
 * The account_update summary, for people and for webhook_event_is_loss():
 * the event name, then ": " and details ("ban state X (date)", the
 * restrictions, the violation); payload tokens pass wh_word() first, so
 * the format reads back reliably.
 */
static int
wh_summary(struct webhook_event *ev, struct json_object *value)
{
	struct buf          b = BUF_INIT;
	struct json_object *o;
	const char         *s;

	buf_puts(&b, ev->event);
	if (strcmp(ev->event, "ACCOUNT_RESTRICTION") == 0)
		wh_restrictions(&b, value, &ev->until);
	else if (strcmp(ev->event, "DISABLED_UPDATE") == 0 &&
	    (o = jx_get(value, "ban_info", json_type_object)) != NULL) {
		buf_printf(&b, ": ban state %s", wh_word(o, "waba_ban_state"));
		if ((s = jx_str(o, "waba_ban_date", NULL)) != NULL &&
		    *s != '\0')
			buf_printf(&b, " (%s)", s);
	} else if (strcmp(ev->event, "ACCOUNT_VIOLATION") == 0 &&
	    (o = jx_get(value, "violation_info", json_type_object)) != NULL)
		buf_printf(&b, ": %s", wh_word(o, "violation_type"));
	if (b.data == NULL)
		return -1;
	jx_copy(ev->text, sizeof(ev->text), buf_str(&b));
	buf_free(&b);
	return 0;
}

/*
 * field "account_update": one event per change. PARTNER_* events concern
 * a customer's WABA but arrive on our partner business's entry, so the
 * WABA comes from waba_info; the partner-led business verification event
 * (PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE) is the exception, arriving
 * on the WABA's own entry without waba_info.
 */
static int
wh_account_update(struct wh_ctx *c, const char *waba, int64_t when,
    struct json_object *value)
{
	struct webhook_event ev;
	int                  partner;

	memset(&ev, 0, sizeof(ev));
	ev.kind = WEBHOOK_ACCOUNT_UPDATE;
	ev.timestamp = when;
	memcpy(ev.waba_id, waba, strlen(waba) + 1);
	if (wh_id(ev.event, sizeof(ev.event), jx_str(value, "event", NULL),
	        WH_NAME) == -1)
		goto skip;
	partner = strncmp(ev.event, "PARTNER_", 8) == 0 &&
	    strstr(ev.event, "CERTIFICATION") == NULL;
	if (partner &&
	    wh_id(ev.waba_id, sizeof(ev.waba_id),
	        jx_str(jx_get(value, "waba_info", json_type_object), "waba_id",
	            NULL),
	        WH_DIGITS) == -1)
		goto skip;
	if (wh_summary(&ev, value) == -1) {
		wh_err(c->err, c->errlen, "out of memory");
		c->nomem = 1;
		return -1;
	}
	/* The whole value: event, waba_info, ban_info, restriction_info... */
	if (wh_dump(c, value, &ev.object) == -1)
		return -1;
	if (wh_push(c, &ev) == -1) {
		wh_ev_free(&ev);
		return -1;
	}
	return 0;
skip:
	c->out->skipped++;
	return 0;
}

/* ---- the trouble fields ---------------------------------------------- */

/* A word of Meta's into dst, or "" when absent or not a WH_NAME word. */
static void
wh_token(char *dst, size_t size, struct json_object *o, const char *key)
{
	if (wh_id(dst, size, jx_str(o, key, NULL), WH_NAME) == -1)
		*dst = '\0';
}

/* A display_phone_number's digits ("+1 555-0100" and "15550100" alike). */
static int
wh_display(char *dst, size_t size, struct json_object *o)
{
	const char *s = jx_str(o, "display_phone_number", NULL);
	size_t      n = 0;

	if (s == NULL)
		return -1;
	for (; *s && n + 1 < size; s++)
		if (*s >= '0' && *s <= '9')
			dst[n++] = *s;
		else if (strchr(" +-()", *s) == NULL)
			return -1;
	dst[n] = '\0';
	return n > 0 && *s == '\0' ? 0 : -1;
}

/* The three template fields: one event each (struct webhook_event). */
static int
wh_template(struct webhook_event *ev, const char *field,
    struct json_object *value)
{
	struct json_object *o;
	const char         *s;
	char                a[32], b[32];
	long long           id = wh_num(value, "message_template_id");

	if (id <= 0)
		return -1;
	snprintf(ev->id, sizeof(ev->id), "%lld", id);
	snprintf(ev->event, sizeof(ev->event), "%s", field);
	if ((s = jx_str(value, "message_template_name", NULL)) != NULL)
		jx_copy(ev->name, sizeof(ev->name), s);
	wh_token(ev->type, sizeof(ev->type), value,
	    "message_template_language");
	wh_token(ev->category, sizeof(ev->category), value,
	    "message_template_category");
	if (strcmp(field, "message_template_status_update") == 0) {
		if (wh_id(ev->status, sizeof(ev->status),
		        jx_str(value, "event", NULL), WH_NAME) == -1)
			return -1;
		o = jx_get(value, "other_info", json_type_object);
		if ((s = jx_str(value, "reason", NULL)) != NULL && *s &&
		    strcmp(s, "NONE") != 0)
			jx_copy(ev->text, sizeof(ev->text), s);
		else if (o != NULL &&
		    ((s = jx_str(o, "description", NULL)) != NULL ||
		        (s = jx_str(o, "title", NULL)) != NULL))
			jx_copy(ev->text, sizeof(ev->text), s);
		return 0;
	}
	if (strcmp(field, "message_template_quality_update") == 0) {
		wh_token(a, sizeof(a), value, "previous_quality_score");
		if (wh_id(ev->status, sizeof(ev->status),
		        jx_str(value, "new_quality_score", NULL),
		        WH_NAME) == -1)
			return -1;
		snprintf(ev->text, sizeof(ev->text), "quality %s -> %s",
		    *a ? a : "-", ev->status);
		return 0;
	}
	/* template_category_update: done, or to come (correct_category). */
	if (wh_id(ev->status, sizeof(ev->status),
	        jx_str(value, "new_category", NULL), WH_NAME) == -1)
		return -1;
	snprintf(ev->category, sizeof(ev->category), "%s", ev->status);
	wh_token(a, sizeof(a), value, "previous_category");
	wh_token(b, sizeof(b), value, "correct_category");
	if (*b)
		snprintf(ev->text, sizeof(ev->text), "category %s to become %s",
		    ev->status, b);
	else
		snprintf(ev->text, sizeof(ev->text), "category %s -> %s",
		    *a ? a : "-", ev->status);
	return 0;
}

/* A limit Meta sends as a word ("TIER_1K") or a number (2000, -1). */
static void
wh_limit(char *dst, size_t size, struct json_object *o, const char *key)
{
	struct json_object *v;

	if ((v = jx_get(o, key, json_type_int)) != NULL)
		snprintf(dst, size, "%lld",
		    (long long)json_object_get_int64(v));
	else
		wh_token(dst, size, o, key);
}

static int
wh_phone_quality(struct webhook_event *ev, struct json_object *value)
{
	char was[32], now[32];

	if (wh_display(ev->from, sizeof(ev->from), value) == -1 ||
	    wh_id(ev->status, sizeof(ev->status), jx_str(value, "event", NULL),
	        WH_NAME) == -1)
		return -1;
	wh_limit(was, sizeof(was), value, "old_limit");
	wh_limit(now, sizeof(now), value, "current_limit");
	if (*now == '\0')
		wh_limit(now, sizeof(now), value,
		    "max_daily_conversations_per_business");
	snprintf(ev->text, sizeof(ev->text), "%s: limit %s -> %s", ev->status,
	    *was ? was : "-", *now ? now : "-");
	return 0;
}

static int
wh_notice(struct webhook_event *ev, const char *field,
    struct json_object *value)
{
	struct json_object *ai;
	const char         *s;
	char                sev[32], a[32], b[32];

	snprintf(ev->type, sizeof(ev->type), "%s", field);
	if (strcmp(field, "phone_number_name_update") == 0) {
		if (wh_display(ev->from, sizeof(ev->from), value) == -1 ||
		    wh_id(ev->status, sizeof(ev->status),
		        jx_str(value, "decision", NULL), WH_NAME) == -1)
			return -1;
		if ((s = jx_str(value, "requested_verified_name", NULL)) !=
		    NULL)
			jx_copy(ev->name, sizeof(ev->name), s);
		if ((s = jx_str(value, "rejection_reason", NULL)) != NULL &&
		    strcmp(s, "NONE") != 0)
			jx_copy(ev->text, sizeof(ev->text), s);
		return 0;
	}
	if (strcmp(field, "account_alerts") == 0) {
		if ((ai = jx_get(value, "alert_info", json_type_object)) ==
		        NULL ||
		    wh_id(ev->event, sizeof(ev->event),
		        jx_str(ai, "alert_type", NULL), WH_NAME) == -1 ||
		    wh_id(ev->status, sizeof(ev->status),
		        jx_str(ai, "alert_status", NULL), WH_NAME) == -1)
			return -1;
		if (wh_id(ev->from, sizeof(ev->from),
		        jx_str(value, "entity_id", NULL), WH_DIGITS) == -1)
			*ev->from = '\0';
		wh_token(sev, sizeof(sev), ai, "alert_severity");
		s = jx_str(ai, "alert_description", NULL);
		snprintf(ev->text, sizeof(ev->text), "%s: %s",
		    *sev ? sev : "ALERT", s && *s ? s : ev->event);
		return 0;
	}
	if (strcmp(field, "account_review_update") == 0)
		return wh_id(ev->status, sizeof(ev->status),
		    jx_str(value, "decision", NULL), WH_NAME);
	if (strcmp(field, "business_capability_update") == 0) {
		wh_limit(a, sizeof(a), value,
		    "max_daily_conversations_per_business");
		wh_limit(b, sizeof(b), value, "max_phone_numbers_per_business");
		snprintf(ev->text, sizeof(ev->text),
		    "max_daily_conversations_per_business %s, "
		    "max_phone_numbers_per_business %s",
		    *a ? a : "-", *b ? b : "-");
		return 0;
	}
	/* security */
	if (wh_display(ev->from, sizeof(ev->from), value) == -1 ||
	    wh_id(ev->status, sizeof(ev->status), jx_str(value, "event", NULL),
	        WH_NAME) == -1)
		return -1;
	return 0;
}

/* Which trouble field, and what it becomes. */
static const struct {
	const char       *field;
	enum webhook_kind kind;
} wh_trouble[] = {
	{ "message_template_status_update", WEBHOOK_TEMPLATE },
	{ "message_template_quality_update", WEBHOOK_TEMPLATE },
	{ "template_category_update", WEBHOOK_TEMPLATE },
	{ "phone_number_quality_update", WEBHOOK_PHONE_QUALITY },
	{ "phone_number_name_update", WEBHOOK_NOTICE },
	{ "account_alerts", WEBHOOK_NOTICE },
	{ "account_review_update", WEBHOOK_NOTICE },
	{ "business_capability_update", WEBHOOK_NOTICE },
	{ "security", WEBHOOK_NOTICE },
};

/* -1: out of memory; 0: pushed or skipped (counted); 1: not one of these. */
static int
wh_trouble_change(struct wh_ctx *c, const char *waba, int64_t when,
    const char *field, struct json_object *value)
{
	struct webhook_event ev;
	size_t               k;
	int                  rc;

	for (k = 0; k < WH_N(wh_trouble); k++)
		if (strcmp(field, wh_trouble[k].field) == 0)
			break;
	if (k == WH_N(wh_trouble))
		return 1;
	memset(&ev, 0, sizeof(ev));
	ev.kind = wh_trouble[k].kind;
	ev.timestamp = when;
	memcpy(ev.waba_id, waba, strlen(waba) + 1);
	rc = ev.kind == WEBHOOK_TEMPLATE       ? wh_template(&ev, field, value)
	    : ev.kind == WEBHOOK_PHONE_QUALITY ? wh_phone_quality(&ev, value)
	                                       : wh_notice(&ev, field, value);
	if (rc == -1) {
		c->out->skipped++;
		return 0;
	}
	/* The feed tells the fields apart by metadata.field. */
	if (ev.kind == WEBHOOK_TEMPLATE || ev.kind == WEBHOOK_PHONE_QUALITY) {
		char meta[96];

		snprintf(meta, sizeof(meta), "{\"field\":\"%s\"}", field);
		if ((ev.metadata = strdup(meta)) == NULL) {
			wh_err(c->err, c->errlen, "out of memory");
			c->nomem = 1;
			return -1;
		}
	}
	if (wh_dump(c, value, &ev.object) == -1) {
		wh_ev_free(&ev);
		return -1;
	}
	if (wh_push(c, &ev) == -1) {
		wh_ev_free(&ev);
		return -1;
	}
	return 0;
}

static int
wh_entry(struct wh_ctx *c, struct json_object *entry)
{
	struct json_object *changes, *ch, *value;
	const char         *field;
	char                waba[33];
	int64_t             when;
	size_t              i, k, n;
	int                 rc;

	if (entry == NULL || !json_object_is_type(entry, json_type_object) ||
	    wh_id(waba, sizeof(waba), jx_str(entry, "id", NULL), WH_DIGITS) ==
	        -1 ||
	    (changes = jx_get(entry, "changes", json_type_array)) == NULL) {
		c->out->skipped++;
		return 0;
	}
	when = wh_time(entry, "time");
	n = json_object_array_length(changes);
	for (i = 0; i < n; i++) {
		ch = json_object_array_get_idx(changes, i);
		if ((field = jx_str(ch, "field", NULL)) == NULL ||
		    (value = jx_get(ch, "value", json_type_object)) == NULL) {
			c->out->skipped++;
			continue;
		}
		for (k = 0; k < WH_N(wh_fields); k++)
			if (strcmp(field, wh_fields[k].field) == 0)
				break;
		if (k < WH_N(wh_fields))
			rc = wh_number_change(c, waba, value,
			    wh_fields[k].lists, wh_fields[k].n);
		else if (strcmp(field, "account_update") == 0)
			rc = wh_account_update(c, waba, when, value);
		else if ((rc = wh_trouble_change(c, waba, when, field,
		              value)) == 1) {
			/* Other fields: not ours. */
			c->out->skipped++;
			rc = 0;
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* The whole body: one strict JSON value of at most WH_DEPTH levels. */
static struct json_object *
wh_json(const char *body, size_t len, int *nomem, char *err, size_t errlen)
{
	return jx_parse_strict(body, len, WH_DEPTH, nomem, err, errlen);
}

enum webhook_err
webhook_parse(const char *body, size_t len, struct webhook_batch *out,
    char *err, size_t errlen)
{
	struct wh_ctx       c;
	struct json_object *root = NULL, *entries;
	const char         *s;
	size_t              i, n;

	wh_err(err, errlen, "%s", "");
	if (out == NULL)
		return WEBHOOK_MALFORMED;
	memset(out, 0, sizeof(*out));
	c = (struct wh_ctx){ out, 0, err, errlen, 0, len };
	if (body == NULL || len == 0 || len > INT_MAX) {
		wh_err(err, errlen, "body empty or too large (%zu bytes)", len);
		goto fail;
	}
	/* The tokener would stop at a NUL and call the rest "trailing". */
	if (memchr(body, '\0', len) != NULL) {
		wh_err(err, errlen, "body contains a NUL byte");
		goto fail;
	}
	if ((root = wh_json(body, len, &c.nomem, err, errlen)) == NULL)
		goto fail;
	/* jx_str() also refuses a root that is not an object. */
	if ((s = jx_str(root, "object", NULL)) == NULL ||
	    strcmp(s, "whatsapp_business_account") != 0) {
		wh_err(err, errlen,
		    "not an object with \"object\": "
		    "\"whatsapp_business_account\"");
		goto fail;
	}
	if ((entries = jx_get(root, "entry", json_type_array)) == NULL) {
		wh_err(err, errlen, "\"entry\" is not an array");
		goto fail;
	}
	n = json_object_array_length(entries);
	for (i = 0; i < n; i++)
		if (wh_entry(&c, json_object_array_get_idx(entries, i)) == -1)
			goto fail;
	json_object_put(root);
	return WEBHOOK_OK;
fail:
	/* A refused delivery yields no events, so none can be half-stored. */
	json_object_put(root);
	webhook_batch_free(out);
	return c.nomem ? WEBHOOK_NOMEM : WEBHOOK_MALFORMED;
}

void
webhook_batch_free(struct webhook_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		wh_ev_free(&b->ev[i]);
	free(b->ev);
	memset(b, 0, sizeof(*b));
}

/*
 * Events after which the workspace can do nothing until the business
 * connects again (doc/architecture.md, The webhook path: needs_reconnect).
 * A restriction counts: what it stops (mostly business-initiated messages)
 * is what this app is for; a ban only once in force (DISABLE, not
 * SCHEDULE_FOR_DISABLE or REINSTATE). ACCOUNT_VIOLATION is a warning.
 * need, when set, is what the summary must start with; the details after
 * it (or after the event name) end the reason.
 */
static const struct {
	const char *event;
	const char *need;
	const char *reason;
} wh_losses[] = {
	{ "PARTNER_REMOVED", NULL,
	    "the business removed this app from its WhatsApp account" },
	{ "PARTNER_APP_UNINSTALLED", NULL,
	    "the business withdrew this app's permissions on its WhatsApp "
	    "account" },
	{ "ACCOUNT_DELETED", NULL,
	    "the WhatsApp Business Account was deleted" },
	{ "ACCOUNT_OFFBOARDED", NULL,
	    "the WhatsApp Business Account was disconnected after its number "
	    "moved to another device or was registered again" },
	{ "DISABLED_UPDATE", "DISABLED_UPDATE: ban state DISABLE",
	    "Meta disabled the WhatsApp Business Account" },
	{ "ACCOUNT_RESTRICTION", NULL,
	    "Meta restricted the WhatsApp Business Account" },
};

int
webhook_event_is_loss(const struct webhook_event *ev, char *reason,
    size_t reasonlen)
{
	char        tmp[1200]; /* reason and summary */
	const char *p, *rest;
	size_t      i, n;

	wh_err(reason, reasonlen, "%s", "");
	if (ev == NULL || ev->kind != WEBHOOK_ACCOUNT_UPDATE ||
	    webhook_event_standing(ev) == WEBHOOK_LIFTED)
		return 0;
	for (i = 0; i < sizeof(wh_losses) / sizeof(wh_losses[0]); i++) {
		if (strcmp(ev->event, wh_losses[i].event) != 0)
			continue;
		p = wh_losses[i].need != NULL ? wh_losses[i].need
		                              : wh_losses[i].event;
		n = strlen(p);
		rest = strncmp(ev->text, p, n) == 0 ? ev->text + n : NULL;
		/* "DISABLE" must not match "DISABLED_...". */
		if (rest != NULL && *rest != '\0' && *rest != ' ' &&
		    *rest != ':')
			rest = NULL;
		if (wh_losses[i].need != NULL && rest == NULL)
			return 0;
		snprintf(tmp, sizeof(tmp), "%s%s", wh_losses[i].reason,
		    rest != NULL ? rest : "");
		if (reason != NULL && reasonlen > 0)
			jx_copy(reason, reasonlen, tmp);
		return 1;
	}
	return 0;
}

enum webhook_standing
webhook_event_standing(const struct webhook_event *ev)
{
	static const char ban[] = "DISABLED_UPDATE: ban state ";
	const char       *state;
	size_t            n;

	if (ev == NULL || ev->kind != WEBHOOK_ACCOUNT_UPDATE)
		return WEBHOOK_NEUTRAL;
	/*
	 * Offboarded (the number moved to another device or was registered
	 * again): a hold a new token does not lift, only Meta's
	 * ACCOUNT_RECONNECTED.
	 */
	if (strcmp(ev->event, "ACCOUNT_OFFBOARDED") == 0)
		return WEBHOOK_RESTRICTED;
	if (strcmp(ev->event, "ACCOUNT_RECONNECTED") == 0)
		return WEBHOOK_LIFTED;
	if (strcmp(ev->event, "ACCOUNT_RESTRICTION") == 0)
		return strcmp(ev->text, "ACCOUNT_RESTRICTION: none") == 0
		    ? WEBHOOK_LIFTED
		    : WEBHOOK_RESTRICTED;
	if (strcmp(ev->event, "DISABLED_UPDATE") != 0 ||
	    strncmp(ev->text, ban, sizeof(ban) - 1) != 0)
		return WEBHOOK_NEUTRAL;
	/* wh_summary() wrote the state as a WH_NAME word. */
	state = ev->text + sizeof(ban) - 1;
	n = strcspn(state, " ");
	if (n == 7 && strncmp(state, "DISABLE", 7) == 0)
		return WEBHOOK_RESTRICTED;
	if (n == 9 && strncmp(state, "REINSTATE", 9) == 0)
		return WEBHOOK_LIFTED;
	return WEBHOOK_NEUTRAL;
}
