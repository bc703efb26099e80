/*
 * GET /api/v1/w/{slug}/events: the events feed (doc/contract.md,
 * Internal API; doc/architecture.md, The events feed). What Meta
 * delivered to the workspace (and the connection's own changes), in id
 * order from a cursor, each with Meta's object whole; with wait > 0 and
 * nothing new, a long-poll that holds its worker (never a Meta slot or a
 * database transaction) until an event arrives or the wait is over.
 * A file of its own: the waiting is nothing like the other API routes,
 * which answer from one read or one Graph call.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "../app.h"
#include "../clock.h"
#include "../config.h"
#include "../evjson.h"
#include "../graph.h"
#include "../log.h"
#include "../meta_gate.h"
#include "../request.h"
#include "../store/events.h"
#include "../store/workspaces.h"
#include "handlers.h"

#define EV_LIMIT_DEFAULT 100
#define EV_TICK_MS       50   /* how often a waiter looks at the gate */
#define EV_DB_EVERY_MS   1000 /* and at the database: other hosts' events */

/*
 * The events after *next into arr, *next moved to the last one's id;
 * *got how many.
 */
static enum store_rc
ev_read(struct ctx *c, uint64_t *next, unsigned limit, struct json_object *arr,
    size_t *got)
{
	struct sq           q;
	struct ev_row       r;
	struct json_object *e;
	enum store_rc       rc;

	*got = 0;
	if ((rc = store_ev_list(c->app->db, &c->ws, *next, limit, &q)) !=
	    STORE_OK)
		return rc;
	while (store_ev_next(&q, &r)) {
		if ((e = evj_event(&r)) == NULL) {
			sq_close(&q);
			return STORE_ERR;
		}
		json_object_array_add(arr, e);
		*next = r.id;
		(*got)++;
	}
	sq_close(&q);
	return STORE_OK;
}

/*
 * Whether the waiter should stop: the client went away (the web server
 * closed our FastCGI connection, or sent FCGI_ABORT_REQUEST), or the
 * pool wants this worker to stop or reload (signals stay pending while
 * a request runs: pool.c).
 */
static int
ev_give_up(struct ctx *c)
{
	struct pollfd pfd;
	unsigned char hdr[8];
	sigset_t      pend;
	ssize_t       n;

	if (sigpending(&pend) == 0 &&
	    (sigismember(&pend, SIGTERM) == 1 ||
	        sigismember(&pend, SIGINT) == 1 ||
	        sigismember(&pend, SIGHUP) == 1))
		return 1;
	if (c->req->fcgi == NULL || c->req->fcgi->ipcFd < 0)
		return 0;
	pfd.fd = c->req->fcgi->ipcFd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1)
		return 0;
	if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
		return 1;
	/* Only a closed stream or an abort record means gone. */
	n = recv(pfd.fd, hdr, sizeof(hdr), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return 1;
	return n >= 2 && hdr[1] == 2; /* FCGI_ABORT_REQUEST */
}

/*
 * Waits for an event after *next, at most wait_ms: looks again at once
 * when the webhook handler of any worker bumped the workspace's events
 * generation, and every EV_DB_EVERY_MS anyway (a delivery stored by
 * another host of a cluster bumps nothing here). gen0 was read before
 * the read that found nothing, so a delivery committed in between is
 * not missed.
 */
static enum store_rc
ev_wait(struct ctx *c, uint64_t *next, unsigned limit, long wait_ms,
    long long gen0, struct json_object *arr, size_t *got)
{
	struct timespec tick = { 0, EV_TICK_MS * 1000000L };
	long long       end = clk_ms() + wait_ms, last = clk_ms(), now;
	long long       gen;
	enum store_rc   rc;

	*got = 0;
	for (;;) {
		nanosleep(&tick, NULL);
		now = clk_ms();
		gen = gate_events_gen(c->ws.id);
		if (gen != gen0 || now - last >= EV_DB_EVERY_MS || now >= end) {
			gen0 = gen;
			last = now;
			if ((rc = ev_read(c, next, limit, arr, got)) !=
			        STORE_OK ||
			    *got > 0)
				return rc;
		}
		if (now >= end || ev_give_up(c))
			return STORE_OK;
	}
}

enum answer
h_api_events(struct ctx *c)
{
	struct json_object *o, *arr;
	uint64_t            after, next;
	unsigned            limit;
	long                wait_s;
	long long           gen0;
	size_t              got;
	enum store_rc       rc;
	int                 place = -1;

	after = c->in[EV_AFTER].set ? (uint64_t)c->in[EV_AFTER].num : 0;
	limit = c->in[EV_LIMIT].set ? (unsigned)c->in[EV_LIMIT].num
	                            : EV_LIMIT_DEFAULT;
	wait_s = c->in[EV_WAIT].set ? (long)c->in[EV_WAIT].num : 0;
	next = after;
	if ((o = json_object_new_object()) == NULL ||
	    (arr = json_object_new_array()) == NULL) {
		json_object_put(o);
		return api_json(c, 500, NULL);
	}
	json_object_object_add(o, "events", arr);
	gen0 = gate_events_gen(c->ws.id);
	rc = ev_read(c, &next, limit, arr, &got);
	if (rc == STORE_OK && got == 0 && wait_s > 0) {
		/*
		 * Nothing yet: wait, unless max_waiting others already do
		 * (then the answer is what there is: nothing, at once). No
		 * Meta slot is ever held while waiting (this route makes no
		 * Graph call), nor a transaction (each read is one
		 * autocommitted statement).
		 */
		graph_budget_end(c->app->graph);
		if (gate_wait_enter(c->app->cfg->api_max_waiting, &place)) {
			rc = ev_wait(c, &next, limit, wait_s * 1000, gen0, arr,
			    &got);
			gate_wait_leave(&place);
		} else
			log_info("events: workspace %s: %d long-polls already "
			         "wait ([api] max_waiting): answered at once",
			    c->ws.slug, c->app->cfg->api_max_waiting);
	}
	if (rc != STORE_OK) {
		json_object_put(o);
		return rc == STORE_GONE ? api_db_down(c)
		                        : api_error(c, 503, "unavailable",
		                              "the events could not be read; "
		                              "try again in a moment");
	}
	json_object_object_add(o, "next", json_object_new_uint64(next));
	return api_json(c, 200, o);
}
