/*
 * The settings page's Outbox card: what the sender has to do and what
 * it did in the last hour (doc/architecture.md, The sender), from the
 * counts store_conn_page reads in its one statement. A card of its own
 * because its words are about the queue, not the connection: why
 * messages wait paused is the connection's state, read as the sender
 * reads it (connected, with a token, or it pauses the queue).
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "../store/connection.h"
#include "../store/outbox.h"
#include "settings_outbox.h"

/* Waiting this long with nothing sending: is a sender running at all? */
#define SO_STUCK_S 300

static void
so_add(struct json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

/* A count (outbox.h) as the card shows it: "12", "at least 961". */
static void
so_count(struct json_object *card, const char *k, const struct outbox_page *o,
    enum outbox_state st)
{
	char s[48];

	switch (o->how[st]) {
	case OBX_EXACT:
		snprintf(s, sizeof(s), "%lld", o->n[st]);
		break;
	case OBX_AT_LEAST:
		snprintf(s, sizeof(s), "at least %lld", o->n[st]);
		break;
	case OBX_UNCOUNTED:
		snprintf(s, sizeof(s), "not counted");
		break;
	}
	so_add(card, k, s);
}

/* Something in it, or perhaps (not counted: its family is large). */
static int
so_some(const struct outbox_page *o, enum outbox_state st)
{
	return o->n[st] > 0 || o->how[st] == OBX_UNCOUNTED;
}

/* "under a minute", "1 minute", "12 minutes", "3 hours", "2 days". */
static void
so_span(long long s, char *out, size_t len)
{
	long long   n;
	const char *unit;

	if (s < 60) {
		snprintf(out, len, "under a minute");
		return;
	}
	if (s >= 2 * 86400) {
		n = s / 86400;
		unit = "day";
	} else if (s >= 2 * 3600) {
		n = s / 3600;
		unit = "hour";
	} else {
		n = s / 60;
		unit = "minute";
	}
	snprintf(out, len, "%lld %s%s", n, unit, n == 1 ? "" : "s");
}

/*
 * Why the sender holds them: it sends for a connection that is
 * connected and holds a token, and pauses the queue of any other
 * (sender.c, snd_look); a 190 from Meta marks it needs_reconnect with
 * Meta's reason in words, which is what the merchant reads here.
 */
static void
so_paused_why(struct json_object *card, const struct conn_row *r)
{
	char why[700];

	if (strcmp(r->status, "needs_reconnect") == 0)
		snprintf(why, sizeof(why),
		    "Paused: Meta no longer accepts this connection%s%s%s. "
		    "Reconnect above and they are sent.",
		    *r->reason ? " (" : "", r->reason, *r->reason ? ")" : "");
	else if (strcmp(r->status, "pending_phone_selection") == 0)
		snprintf(why, sizeof(why),
		    "Paused: no phone number is chosen to send from. Choose "
		    "one above and they are sent.");
	else if (strcmp(r->status, "connected") == 0 && r->has_token)
		snprintf(why, sizeof(why),
		    "Paused while the connection could not send; it is "
		    "connected again, so the sender resumes them within "
		    "seconds.");
	else
		snprintf(why, sizeof(why),
		    "Paused: WhatsApp is not connected to this workspace. "
		    "Connect it above and they are sent.");
	so_add(card, "paused_why", why);
}

void
settings_outbox(struct json_object *d, const struct conn_page *p)
{
	static const struct {
		const char       *key;
		enum outbox_state st;
	} counts[] = {
		{ "queued", OBX_QUEUED },
		{ "sending", OBX_SENDING },
		{ "paused", OBX_PAUSED },
		{ "sent_1h", OBX_SENT_1H },
		{ "failed_1h", OBX_FAILED_1H },
		{ "unknown_1h", OBX_UNKNOWN_1H },
	};
	const struct outbox_page *o = &p->outbox;
	const struct conn_row    *r = &p->conn;
	struct json_object       *card;
	char                      s[64], note[300];
	size_t                    i;
	int                       any = 0, ok;

	for (i = 0; i < OBX_NSTATES; i++)
		any |= so_some(o, (enum outbox_state)i);
	if (!r->has_token && strcmp(r->status, "not_connected") == 0 && !any)
		return;
	card = json_object_new_object();
	json_object_object_add(d, "outbox", card);
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		so_count(card, counts[i].key, o, counts[i].st);
	if (!so_some(o, OBX_QUEUED) && !so_some(o, OBX_SENDING) &&
	    !so_some(o, OBX_PAUSED))
		json_object_object_add(card, "empty",
		    json_object_new_boolean(1));
	if (so_some(o, OBX_UNKNOWN_1H))
		json_object_object_add(card, "has_unknown",
		    json_object_new_boolean(1));
	if (o->wait_s >= 0) {
		so_span(o->wait_s, s, sizeof(s));
		so_add(card, "wait", s);
	}
	if (o->paused_s >= 0) {
		so_paused_why(card, r);
		so_span(o->paused_s, s, sizeof(s));
		so_add(card, "paused_for", s);
	}
	/* Queued, sendable, and nothing taken for minutes: said, not guessed at. */
	ok = strcmp(r->status, "connected") == 0 && r->has_token;
	if (ok && o->wait_s >= SO_STUCK_S && o->how[OBX_SENDING] == OBX_EXACT &&
	    o->n[OBX_SENDING] == 0) {
		so_span(o->wait_s, s, sizeof(s));
		snprintf(note, sizeof(note),
		    "The oldest queued message has waited %s and none is "
		    "being sent. If this persists, ask your administrator "
		    "whether the sender runs (waba-connect --sender).",
		    s);
		so_add(card, "stuck", note);
	}
}
