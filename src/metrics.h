/*
 * metrics: the counters GET /metrics exposes (doc/contract.md, Metrics),
 * kept in memory shared by every process of the pool, as meta_gate's
 * state is: the supervisor maps it before it forks (metrics_init_pool),
 * processes the web server spawns, and waba-connect --sender, map one
 * named segment per user and config file (metrics_init_spawned), which
 * waba-connect-admin monitor joins when it is there
 * (metrics_attach_spawned). Every
 * recorder is a few lock-free atomic adds and does nothing before an
 * init, so the admin tool and the unit tests call them freely.
 *
 * Labels are only what we chose: route patterns, status codes, Graph
 * endpoint names, outcome words. Never an id, a path with ids, a token.
 */
#ifndef WABA_METRICS_H
#define WABA_METRICS_H

#include <stddef.h>

struct buf;

#define METRICS_ROUTES 64 /* routes of the table; one more: unmatched */

int metrics_init_pool(char *err, size_t errlen);
int metrics_init_spawned(const char *config_path, char *err, size_t errlen);
/*
 * The named segment of config_path and this user only when it is there
 * already (a pool's workers made it): 0, 1 when there is none (then the
 * recorders do nothing), -1 with err when it cannot be used.
 */
int metrics_attach_spawned(const char *config_path, char *err, size_t errlen);

/*
 * The route table's patterns and methods, by index (app.c, at load):
 * the exposition labels route i route="names[i]", method="methods[i]"
 * (one route entry per method and pattern, so the pair is unique).
 */
void metrics_routes(const char *const *names, const char *const *methods,
    size_t n);
/* One answered request: its route's index (-1: none), status, time. */
void metrics_request(int route, int status, long long duration_us);
/*
 * One Graph attempt or refusal: endpoint as graph_do names it, outcome
 * one of ok, graph_error, http_5xx, timeout, network, tls, busy,
 * breaker_open, budget.
 */
void metrics_graph(const char *endpoint, const char *outcome);
/* One POST /webhooks/meta, by its status (app_hook_outcome in app.c):
   accepted, bad_signature, too_large, database_unavailable, error,
   refused. */
void metrics_webhook(const char *outcome);
/*
 * One monitor pass and how long it took: the passes and failures
 * counters, the pass duration histogram, the last pass's end time.
 */
void metrics_monitor_pass(long long duration_us, int failed);
/*
 * The sender's (sender.c): the queue's depth now, and one send's outcome:
 * sent, failed, unknown, or retried (a try Meta did not act on, to be
 * tried again).
 */
void metrics_outbox_depth(long long depth);
void metrics_send(const char *outcome);

/*
 * Whether addr (REMOTE_ADDR, IPv4 or IPv6 text) is in list, [metrics]
 * allow: addresses or CIDR prefixes separated by commas or spaces.
 * metrics_allow_check: 0, or -1 with why naming the bad entry (config).
 */
int metrics_allowed(const char *list, const char *addr);
int metrics_allow_check(const char *list, char *why, size_t whylen);

/* The bulkhead and breaker's state, for the exposition (meta_gate.c). */
struct metrics_gate {
	int in_use, capacity;
	int breaker; /* 0 closed, 1 open, 2 half-open */
};
/* Workspaces by connection status, counted by the caller (the store). */
struct metrics_ws {
	long not_connected, pending, connected, needs_reconnect;
	int  known; /* 0: the count failed; left out */
};

/* The Prometheus text exposition (format 0.0.4) into out; 0 or -1. */
int metrics_render(struct buf *out, const struct metrics_gate *,
    const struct metrics_ws *);

#endif
