/*
 * GET /metrics: the pool's counters (metrics.h) in Prometheus's text
 * format, for the addresses of [metrics] allow only (REMOTE_ADDR, the
 * client's address as the web server saw it); anyone else gets the
 * ordinary 404 page, as for an address that does not exist. Besides the
 * shared counters it reads the Meta gate's state and counts workspaces
 * by connection status, at most once a minute per worker (each scrape
 * would otherwise read every workspace's database).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../app.h"
#include "../buf.h"
#include "../config.h"
#include "../meta_gate.h"
#include "../metrics.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/workspaces.h"
#include "../view.h"
#include "handlers.h"

#define METRICS_WS_EVERY_S 60

struct metrics_walk {
	struct db        *db;
	struct metrics_ws n;
};

static int
metrics_ws_one(const struct workspace *ws, void *arg)
{
	struct metrics_walk *w = arg;
	struct conn_row      row;
	enum store_rc        rc;

	rc = store_conn_get(w->db, ws, &row);
	if (rc == STORE_NOTFOUND ||
	    (rc == STORE_OK && strcmp(row.status, "not_connected") == 0))
		w->n.not_connected++;
	else if (rc != STORE_OK)
		return 0; /* its server is down: not counted, not fatal */
	else if (strcmp(row.status, "connected") == 0)
		w->n.connected++;
	else if (strcmp(row.status, "needs_reconnect") == 0)
		w->n.needs_reconnect++;
	else
		w->n.pending++;
	return 0;
}

static void
metrics_ws_count(struct ctx *c, struct metrics_ws *out)
{
	static struct metrics_ws cached;
	static time_t            at;
	struct metrics_walk      w;
	time_t                   now = time(NULL);

	if (cached.known && now - at < METRICS_WS_EVERY_S) {
		*out = cached;
		return;
	}
	memset(&w, 0, sizeof(w));
	w.db = c->app->db;
	w.n.known = store_ws_each(c->app->db, metrics_ws_one, &w) == STORE_OK;
	cached = w.n;
	at = now;
	*out = cached;
}

enum answer
h_metrics(struct ctx *c)
{
	const struct config *cfg = c->app->cfg;
	struct gate_limits   lim = { .max_calls = cfg->max_concurrent_calls };
	struct metrics_gate  g;
	struct metrics_ws    ws;

	if (!metrics_allowed(cfg->metrics_allow, c->req->remote_addr))
		return view_error(c, 404,
		    "There is nothing at this address. Check the link, or go "
		    "back to your workspace settings.");
	g.capacity = gate_capacity(&lim);
	gate_state(GATE_SLOTS, &g.in_use, &g.breaker);
	metrics_ws_count(c, &ws);
	c->resp->status = 200;
	buf_reset(&c->resp->body);
	if (metrics_render(&c->resp->body, &g, &ws) == -1)
		return view_internal(c, "out of memory writing the metrics");
	snprintf(c->resp->ctype, sizeof(c->resp->ctype),
	    "text/plain; version=0.0.4; charset=utf-8");
	return ANSWERED;
}
