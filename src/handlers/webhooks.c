/*
 * Meta's callbacks (doc/architecture.md, The webhook path). The signature
 * is checked over the raw bytes before anything is parsed. Each change is
 * routed to its workspace through the control database; what cannot be
 * routed or parsed is logged and acknowledged (Meta would otherwise
 * redeliver it for days), while a database outage answers 503 so Meta
 * retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../app.h"
#include "../config.h"
#include "../log.h"
#include "../meta_gate.h"
#include "../request.h"
#include "../response.h"
#include "../store/monitor.h"
#include "../store/routes.h"
#include "../store/webhooks.h"
#include "../store/workspaces.h"
#include "../view.h"
#include "../webhook.h"
#include "handlers.h"

/* Equal length or not, compared without leaking where they differ. */
static int
wh_token_eq(const char *a, const char *b)
{
	unsigned char ha[crypto_generichash_BYTES],
	    hb[crypto_generichash_BYTES];

	if (a == NULL || b == NULL)
		return 0;
	crypto_generichash(ha, sizeof(ha), (const unsigned char *)a, strlen(a),
	    NULL, 0);
	crypto_generichash(hb, sizeof(hb), (const unsigned char *)b, strlen(b),
	    NULL, 0);
	return sodium_memcmp(ha, hb, sizeof(ha)) == 0;
}

enum answer
h_webhook_verify(struct ctx *c)
{
	/* hub.mode is "subscribe" and the challenge printable: app.c. */
	if (!wh_token_eq(c->in[HUB_TOKEN].s,
	        c->app->cfg->webhook_verify_token)) {
		log_warn("webhook verification refused");
		resp_text(c->resp, 403, "verification refused\n");
		return ANSWERED;
	}
	log_info("webhook verification accepted");
	resp_text(c->resp, 200, c->in[HUB_CHALLENGE].s);
	return ANSWERED;
}

/*
 * The workspace an event belongs to (the rule: routes.h). An event that
 * names a number goes by the number only: the workspace that selected
 * it. Falling back to its WABA would deliver a number the workspace
 * abandoned (or never chose) wherever the WABA routes. The WABA is for
 * account_update, which names none.
 */
static enum store_rc
wh_route(struct ctx *c, const struct webhook_event *e, uint64_t *id,
    struct workspace *ws)
{
	if (*e->phone_number_id)
		return store_route_find_ws(c->app->db, "phone",
		    e->phone_number_id, id, ws);
	if (*e->waba_id)
		return store_route_find_ws(c->app->db, "waba", e->waba_id, id,
		    ws);
	return STORE_NOTFOUND;
}

/* Whether wh_route finds a and b by the same number, or the same WABA. */
static int
wh_same_route(const struct webhook_event *a, const struct webhook_event *b)
{
	if (*a->phone_number_id || *b->phone_number_id)
		return strcmp(a->phone_number_id, b->phone_number_id) == 0;
	return strcmp(a->waba_id, b->waba_id) == 0;
}

static enum answer
wh_unavailable(struct ctx *c)
{
	resp_text(c->resp, 503, "database unavailable, retry later\n");
	return ANSWERED;
}

/*
 * Stores the events routed to one workspace; what an account_update
 * loss does to the connection is part of the same transaction.
 */
static enum store_rc
wh_deliver(struct ctx *c, uint64_t wsid, const struct workspace *w,
    const struct webhook_event **evs, size_t n)
{
	char(*why)[256] = NULL;
	const char  **loss = NULL;
	enum store_rc rc;
	int           stored;
	size_t        i;

	if (w->id == 0) {
		log_warn("webhook: routed to workspace %llu, which is "
		         "gone: %zu events acknowledged",
		    (unsigned long long)wsid, n);
		return STORE_OK;
	}
	if ((why = calloc(n, sizeof(*why))) == NULL ||
	    (loss = calloc(n, sizeof(*loss))) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (webhook_event_is_loss(evs[i], why[i], sizeof(why[i])))
			loss[i] = why[i];
	if ((rc = store_wh_save(c->app->db, w, evs, loss, n, &stored)) !=
	    STORE_OK)
		goto out;
	log_info("webhook: workspace %s: %zu events, %d new", w->slug, n,
	    stored);
	/* Committed: a long-poll of the events feed may look now. */
	if (stored > 0)
		gate_events_bump(w->id);
	/* A lift restores nothing itself: the monitor's check, soon. */
	for (i = 0; i < n; i++)
		if (webhook_event_standing(evs[i]) == WEBHOOK_LIFTED &&
		    store_mon_due_now(c->app->db, w->id) != STORE_OK)
			log_warn("webhook: workspace %s: could not make its "
			         "health check due now",
			    w->slug);
	for (i = 0; i < n; i++)
		if (evs[i]->kind == WEBHOOK_ACCOUNT_UPDATE)
			log_info("webhook: workspace %s: account_update %s%s",
			    w->slug, evs[i]->event,
			    loss[i]
			        ? " (connection lost, unless already recorded)"
			        : "");
		else if (evs[i]->kind == WEBHOOK_HISTORY && evs[i]->code != 0)
			/* No chats will come: the log says why. */
			log_info("webhook: workspace %s: number %s: history "
			         "sync ended by Meta with code %ld%s",
			    w->slug, evs[i]->phone_number_id, evs[i]->code,
			    evs[i]->code == 2593109 ? " (the business chose "
			                              "not to share its chats)"
			                            : "");
out:
	free(why);
	free(loss);
	return rc;
}

enum answer
h_webhook_event(struct ctx *c)
{
	struct webhook_batch         b;
	const struct webhook_event **group = NULL;
	struct workspace            *wss = NULL;
	uint64_t                    *owner = NULL, ws;
	char                         err[256];
	enum store_rc                rc;
	size_t                       i, j, n;
	enum answer                  ret = ANSWERED;

	if (!webhook_signature_ok(c->app->cfg->app_secret,
	        c->in[HOOK_SIGNATURE].s, c->req->body.data, c->req->body.len)) {
		log_warn("webhook: bad or missing signature (%zu bytes)",
		    c->req->body.len);
		resp_text(c->resp, 403, "bad signature\n");
		return ANSWERED;
	}
	switch (webhook_parse(c->req->body.data, c->req->body.len, &b, err,
	    sizeof(err))) {
	case WEBHOOK_OK:
		break;
	case WEBHOOK_NOMEM:
		/* Our failure, not the delivery's: let Meta try again. */
		log_err("webhook: %s", err);
		webhook_batch_free(&b);
		resp_text(c->resp, 500, "try again later\n");
		return ANSWERED;
	case WEBHOOK_MALFORMED:
		log_warn("webhook: malformed delivery acknowledged: %s", err);
		webhook_batch_free(&b);
		resp_text(c->resp, 200, "ok\n");
		return ANSWERED;
	}
	if (b.skipped)
		log_warn("webhook: %zu malformed items acknowledged",
		    b.skipped);
	if (b.n == 0)
		goto ok;
	if ((owner = calloc(b.n, sizeof(*owner))) == NULL ||
	    (group = calloc(b.n, sizeof(*group))) == NULL ||
	    (wss = calloc(b.n, sizeof(*wss))) == NULL) {
		ret = view_internal(c, "webhook: out of memory");
		goto out;
	}
	for (i = 0; i < b.n; i++) {
		/* A batch of one number's statuses is one route read. */
		for (j = 0; j < i && !wh_same_route(&b.ev[i], &b.ev[j]); j++)
			;
		if (j < i) {
			owner[i] = owner[j];
			wss[i] = wss[j];
			continue;
		}
		rc = wh_route(c, &b.ev[i], &owner[i], &wss[i]);
		if (rc == STORE_NOTFOUND) {
			log_warn(
			    "webhook: no workspace for number %s / WABA %s: "
			    "acknowledged",
			    *b.ev[i].phone_number_id ? b.ev[i].phone_number_id
			                             : "-",
			    *b.ev[i].waba_id ? b.ev[i].waba_id : "-");
			owner[i] = 0;
		} else if (rc != STORE_OK) {
			ret = wh_unavailable(c);
			goto out;
		}
	}
	/* One transaction per workspace the delivery touches. */
	for (i = 0; i < b.n; i++) {
		if ((ws = owner[i]) == 0)
			continue;
		for (n = 0, j = i; j < b.n; j++)
			if (owner[j] == ws) {
				group[n++] = &b.ev[j];
				if (j > i)
					owner[j] = 0;
			}
		if ((rc = wh_deliver(c, ws, &wss[i], group, n)) != STORE_OK) {
			if (rc == STORE_GONE)
				ret = wh_unavailable(c);
			else
				resp_text(c->resp, 500, "storage error\n");
			goto out;
		}
	}
ok:
	resp_text(c->resp, 200, "ok\n");
out:
	free(owner);
	free(group);
	free(wss);
	webhook_batch_free(&b);
	return ret;
}
