/*
 * apigate: the gate in front of every ROUTE_API route (doc/contract.md,
 * Internal API): the key, its scope, its workspace, and for a route
 * that calls Meta the connection with its token, read in one statement
 * and reused for a lease (app.h, struct app's gate_* members). A file of
 * its own: app.c runs the request, this decides who may make it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "apigate.h"
#include "apikey.h"
#include "app.h"
#include "clock.h"
#include "config.h"
#include "handlers/handlers.h"
#include "log.h"
#include "meta_gate.h"
#include "request.h"
#include "router.h"
#include "store/apikeys.h"
#include "vault.h"

/* One answer for every key that does not open the door, whatever why. */
#define APIGATE_NO_KEY \
	"a valid API key is required: Authorization: " \
	"Bearer <key>"
#define APIGATE_NO_WS "no such workspace"

/*
 * The gate in front of every ROUTE_API route (doc/contract.md, Internal
 * API), in this order: a key that is well-formed, known and not revoked
 * (else 401, the same answer for each), the route's scope (else 403),
 * and for {slug} routes a workspace the key may touch (else 404, the
 * answer an unknown workspace gets, so a key learns nothing of others).
 * No session and no CSRF token: no browser holds these keys. The key is
 * read from the database (or that read reused for the lease below, which
 * a revoke waits out), so a revoke is refused by every worker. On a
 * ROUTE_CONN route for a workspace this worker has seen on the control
 * server, and seen this key let into (grants never change: app.h),
 * that read also brings the connection and its token's box (one
 * statement, not two: store_apikey_auth_conn), and what it found is
 * reused for [api] gate_lease_ms unless the connection changed (app.h,
 * struct app_gate_hit; a revoke waits that long before it says it is done);
 * when it finds nothing, whatever the reason, the plain read below
 * decides the answer, and is never reused.
 */
static struct workspace *
apigate_ws(struct app *a, const char *slug)
{
	unsigned i;

	for (i = 0; a->gate_ws != NULL && slug != NULL && i < APP_GATE_WS; i++)
		if (a->gate_ws[i].id != 0 &&
		    strcmp(a->gate_ws[i].slug, slug) == 0)
			return &a->gate_ws[i];
	return NULL;
}

_Static_assert(sizeof(((struct app_grant *)0)->hash) == APIKEY_HASH_BYTES,
    "a grant's key hash");
_Static_assert(sizeof(((struct app_gate_hit *)0)->hash) == APIKEY_HASH_BYTES,
    "a gate hit's key hash");

/* Whether the key of hash was seen granted workspace ws_id (app.h). */
static int
apigate_granted(const struct app *a,
    const unsigned char hash[APIKEY_HASH_BYTES], uint64_t ws_id)
{
	unsigned i;

	for (i = 0; a->gate_grants != NULL && i < APP_GATE_GRANTS; i++)
		if (a->gate_grants[i].ws_id == ws_id &&
		    sodium_memcmp(a->gate_grants[i].hash, hash,
		        APIKEY_HASH_BYTES) == 0)
			return 1;
	return 0;
}

/* After the plain read let the key of hash touch ws. */
static void
apigate_ws_keep(struct app *a, const struct workspace *ws,
    const unsigned char hash[APIKEY_HASH_BYTES])
{
	struct app_grant *g;
	struct workspace *known;

	if (*ws->srv.host || ws->srv.port || *ws->srv.socket)
		return;
	if ((known = apigate_ws(a, ws->slug)) != NULL) {
		/* A row that has changed since: the new one replaces it. */
		if (known->id != ws->id || strcmp(known->db_name, ws->db_name))
			*known = *ws;
	} else {
		if (a->gate_ws == NULL &&
		    (a->gate_ws = calloc(APP_GATE_WS, sizeof(*a->gate_ws))) ==
		        NULL)
			return; /* no memory: two statements, as before */
		a->gate_ws[a->gate_next++ % APP_GATE_WS] = *ws;
	}
	if (apigate_granted(a, hash, ws->id))
		return;
	if (a->gate_grants == NULL &&
	    (a->gate_grants = calloc(APP_GATE_GRANTS,
	         sizeof(*a->gate_grants))) == NULL)
		return;
	g = &a->gate_grants[a->gate_grant_next++ % APP_GATE_GRANTS];
	memcpy(g->hash, hash, APIKEY_HASH_BYTES);
	g->ws_id = ws->id;
}

static void
apigate_hit_drop(struct app_gate_hit *h)
{
	vault_box_free(&h->box);
	memset(h, 0, sizeof(*h));
}

static struct app_gate_hit *
apigate_hit_find(struct app *a, const unsigned char hash[APIKEY_HASH_BYTES],
    uint64_t ws_id)
{
	unsigned i;

	for (i = 0; a->gate_hits != NULL && i < APP_GATE_HITS; i++)
		if (a->gate_hits[i].ws_id == ws_id &&
		    sodium_memcmp(a->gate_hits[i].hash, hash,
		        APIKEY_HASH_BYTES) == 0)
			return &a->gate_hits[i];
	return NULL;
}

/*
 * The gate's read for this key and workspace reused (app.h,
 * struct app_gate_hit): 1 with *a, c->ws and the connection filled as the
 * read would have, 0 when it must be read (none kept, too old, or the
 * connection changed since).
 */
static int
apigate_reuse(struct ctx *c, const unsigned char hash[APIKEY_HASH_BYTES],
    uint64_t ws_id, struct apikey_auth *a)
{
	struct app_gate_hit *h;
	long long            gen;

	if ((h = apigate_hit_find(c->app, hash, ws_id)) == NULL)
		return 0;
	gen = gate_conn_gen(ws_id);
	if (gen < 0 || gen != h->gen || clk_ms() >= h->until_ms) {
		apigate_hit_drop(h);
		return 0;
	}
	if (vault_box_dup(&c->pre_box, &h->box) == -1)
		return 0;
	memset(a, 0, sizeof(*a));
	a->id = h->key_id;
	a->scopes = h->scopes;
	a->may_touch = 1; /* stale 0: the read that made h touched it */
	c->ws = h->ws;
	c->pre_conn = h->conn;
	c->has_pre = 1;
	return 1;
}

/* Keeps what the read started at t0 (generation gen) found. */
static void
apigate_hit_keep(struct ctx *c, const unsigned char hash[APIKEY_HASH_BYTES],
    const struct apikey_auth *a, long long gen, long long t0)
{
	struct app                *app = c->app;
	struct app_gate_hit       *h;
	struct vault_box           box;
	static const unsigned char zero[APIKEY_HASH_BYTES];

	if (gen < 0 || app->cfg->api_gate_lease_ms <= 0)
		return; /* no gate: nothing would say it went stale */
	if (app->gate_hits == NULL &&
	    (app->gate_hits = calloc(APP_GATE_HITS, sizeof(*app->gate_hits))) ==
	        NULL)
		return;
	if (vault_box_dup(&box, &c->pre_box) == -1)
		return;
	/* Its own entry, else a free one, else the next in turn. */
	if ((h = apigate_hit_find(app, hash, c->ws.id)) == NULL &&
	    (h = apigate_hit_find(app, zero, 0)) == NULL)
		h = &app->gate_hits[app->gate_hit_next++ % APP_GATE_HITS];
	apigate_hit_drop(h);
	memcpy(h->hash, hash, APIKEY_HASH_BYTES);
	h->ws_id = c->ws.id;
	h->until_ms = t0 + app->cfg->api_gate_lease_ms;
	h->gen = gen;
	h->scopes = a->scopes;
	h->key_id = a->id;
	h->ws = c->ws;
	h->conn = c->pre_conn;
	h->box = box;
}

enum answer
apigate_check(struct ctx *c, const struct route *rt)
{
	unsigned char      hash[APIKEY_HASH_BYTES];
	struct apikey_auth a;
	struct workspace  *known = NULL;
	const char        *key, *scope;
	unsigned           need = ROUTE_SCOPE_OF(rt->flags);
	char               msg[128];
	enum store_rc      rc = STORE_NOTFOUND;
	int                want_ws;
	long long          gen, t0;

	if ((key = apikey_from_header(
	         req_param(c->req, "HTTP_AUTHORIZATION"))) == NULL)
		return api_error(c, 401, "unauthorized", APIGATE_NO_KEY);
	apikey_hash(key, hash);
	want_ws = strstr(rt->pattern, "{slug}") != NULL;
	if (want_ws && (rt->flags & ROUTE_CONN) &&
	    (known = apigate_ws(c->app, c->req->slug)) != NULL &&
	    apigate_granted(c->app, hash, known->id)) {
		if (apigate_reuse(c, hash, known->id, &a))
			rc = STORE_OK;
		else {
			/* Taken before the read: a later write makes it old. */
			gen = gate_conn_gen(known->id);
			t0 = clk_ms();
			rc = store_apikey_auth_conn(c->app->db, hash, known, &a,
			    &c->ws, &c->pre_conn, &c->pre_box);
			c->has_pre = rc == STORE_OK;
			if (rc == STORE_OK)
				apigate_hit_keep(c, hash, &a, gen, t0);
			else
				memset(known, 0,
				    sizeof(*known)); /* asked again below */
		}
	}
	if (rc != STORE_OK) {
		rc = store_apikey_auth(c->app->db, hash,
		    want_ws ? c->req->slug : NULL, &a, &c->ws);
		if (rc == STORE_OK && a.may_touch && (rt->flags & ROUTE_CONN))
			apigate_ws_keep(c->app, &c->ws, hash);
	}
	if (rc == STORE_NOTFOUND)
		return api_error(c, 401, "unauthorized", APIGATE_NO_KEY);
	if (rc != STORE_OK)
		return api_error(c, 503, "unavailable",
		    "the database is not "
		    "answering; try again in a moment");
	/* At most one write a minute per key, not one per request. */
	if (a.stale && store_apikey_touch(c->app->db, a.id) != STORE_OK)
		log_warn("api key %llu: last_used_at not updated",
		    (unsigned long long)a.id);
	if (need == 0 || (a.scopes & need) != need) {
		scope = apikey_scope_name(need);
		snprintf(msg, sizeof(msg),
		    "this API key does not have the "
		    "scope %s",
		    scope ? scope : "this route needs");
		return api_error(c, 403, "forbidden", msg);
	}
	if (!want_ws)
		return GO_ON;
	if (!a.may_touch)
		return api_error(c, 404, "not_found", APIGATE_NO_WS);
	c->has_ws = 1;
	return GO_ON;
}

void
apigate_free(struct app *a)
{
	unsigned i;

	free(a->gate_ws);
	a->gate_ws = NULL;
	free(a->gate_grants);
	a->gate_grants = NULL;
	for (i = 0; a->gate_hits != NULL && i < APP_GATE_HITS; i++)
		apigate_hit_drop(&a->gate_hits[i]);
	free(a->gate_hits);
	a->gate_hits = NULL;
}
