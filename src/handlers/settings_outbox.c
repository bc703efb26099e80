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

/* A capped count (outbox.h) as the card shows it. */
static void
so_count(struct json_object *card, const char *k, long long n)
{
	char s[48];

	if (n > OUTBOX_PAGE_CAP)
		snprintf(s, sizeof(s), "more than %d", OUTBOX_PAGE_CAP);
	else
		snprintf(s, sizeof(s), "%lld", n);
	so_add(card, k, s);
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
	const struct outbox_page *o = &p->outbox;
	const struct conn_row    *r = &p->conn;
	struct json_object       *card;
	char                      s[64], note[300];
	int                       ok;

	if (!r->has_token && strcmp(r->status, "not_connected") == 0 &&
	    o->g.queued + o->g.sending + o->g.paused + o->g.sent_1h +
	            o->g.failed_1h + o->g.unknown_1h ==
	        0)
		return;
	card = json_object_new_object();
	json_object_object_add(d, "outbox", card);
	so_count(card, "queued", o->g.queued);
	so_count(card, "sending", o->g.sending);
	so_count(card, "paused", o->g.paused);
	so_count(card, "sent_1h", o->g.sent_1h);
	so_count(card, "failed_1h", o->g.failed_1h);
	so_count(card, "unknown_1h", o->g.unknown_1h);
	if (o->g.queued + o->g.sending + o->g.paused == 0)
		json_object_object_add(card, "empty",
		    json_object_new_boolean(1));
	if (o->g.unknown_1h > 0)
		json_object_object_add(card, "has_unknown",
		    json_object_new_boolean(1));
	if (o->g.queued > 0 && o->wait_s >= 0) {
		so_span(o->wait_s, s, sizeof(s));
		so_add(card, "wait", s);
	}
	if (o->g.paused > 0) {
		so_paused_why(card, r);
		if (o->paused_s >= 0) {
			so_span(o->paused_s, s, sizeof(s));
			so_add(card, "paused_for", s);
		}
	}
	/* Queued, sendable, and nothing taken for minutes: said, not guessed at. */
	ok = strcmp(r->status, "connected") == 0 && r->has_token;
	if (ok && o->g.queued > 0 && o->g.sending == 0 &&
	    o->wait_s >= SO_STUCK_S) {
		so_span(o->wait_s, s, sizeof(s));
		snprintf(note, sizeof(note),
		    "The oldest queued message has waited %s and none is "
		    "being sent. If this persists, ask your administrator "
		    "whether the sender runs (waba-connect --sender).",
		    s);
		so_add(card, "stuck", note);
	}
}
