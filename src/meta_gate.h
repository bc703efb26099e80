/*
 * meta_gate: what keeps a slow Meta from starving the pool (issue 8):
 * a bulkhead, at most [meta] max_concurrent_calls workers inside Graph
 * calls at once across all the pool's processes, and a circuit breaker,
 * which after [meta] breaker_failures consecutive timeouts or 5xx fails
 * every Meta call at once for [meta] breaker_seconds, then lets one
 * probe through (half-open) and closes when Meta answers it.
 *
 * The state lives in shared memory, so every process of the pool sees
 * it: standalone, an anonymous mapping the supervisor makes before it
 * forks (gate_init_pool); spawned by the web server (no common parent),
 * a POSIX shared memory object named after the uid and the config file,
 * which every process spawned with that file opens (gate_init_spawned).
 * Without either (the admin tool, unit tests of other modules) there is
 * no gate: every call goes through.
 *
 * A slot holds its owner's pid, taken and given back by compare-and-
 * swap. A worker killed inside a call cannot give its slot back: the
 * supervisor frees the slots of every worker it reaps (gate_forget), and
 * a process that finds every slot taken frees those whose owner no
 * longer exists (spawned mode has no supervisor to do it).
 */
#ifndef WABA_META_GATE_H
#define WABA_META_GATE_H

#include <sys/types.h>

#include <stdint.h>

#define GATE_SLOTS      256 /* = the most workers a pool may have */
#define GATE_EVENT_GENS 64  /* events generations, by workspace id */

/* Per process, from its config: a reload takes effect with it. */
struct gate_limits {
	int  max_calls; /* [meta] max_concurrent_calls; 0: half the
				   pool's workers, at least 1 */
	int  breaker_failures;
	int  breaker_seconds;
	long probe_ms; /* a probe that neither answers nor ends in
				   this long (its process died) is given up */
	int  no_slot;  /* the health monitor: it obeys the breaker and
				   reports to it, but takes no bulkhead slot,
				   so it never holds a worker's capacity; it
				   makes one call at a time of its own */
};

/* One call's passage through the gate. */
struct gate_pass {
	int slot;   /* -1: none held */
	int probe;  /* this call is the half-open probe */
	int active; /* a gate exists and was entered */
};

enum gate_rc {
	GATE_OK = 0,
	GATE_BUSY, /* max_concurrent_calls in flight */
	GATE_OPEN  /* the breaker is open */
};

/* What one attempt says about Meta's health. */
enum gate_outcome {
	GATE_UP,     /* Meta answered (anything below 500) */
	GATE_DOWN,   /* a timeout or a 5xx */
	GATE_NEUTRAL /* says nothing of Meta (refused connection,
				   TLS, our own errors) */
};

/*
 * Standalone: the shared state for a pool of nworkers, before the
 * first fork. 0, or -1 with err.
 */
int gate_init_pool(int nworkers, char *err, size_t errlen);
/*
 * Spawned mode: opens (or creates, mode 0600) the state shared by the
 * processes of this uid spawned with config_path; nworkers is the
 * pool's size as configured ([server] workers, lighttpd's max-procs).
 * 0, or -1 with err (the process then runs without a gate).
 */
int gate_init_spawned(const char *config_path, int nworkers, char *err,
    size_t errlen);
/*
 * For a process that writes what the workers read but is not one of
 * them (`waba-connect-admin monitor` on a timer): the segment of
 * config_path if spawned workers made one, never a new one. 0 attached,
 * 1 there is none (nothing to tell), -1 with err.
 */
int gate_attach_spawned(const char *config_path, char *err, size_t errlen);
/* Supervisor: pid is dead and reaped; frees what it held. */
void gate_forget(pid_t pid);

/*
 * Before a Graph call: GATE_OK (pass filled; gate_leave after), or why
 * Meta is not to be called now. retry_after_s: how long the refusal
 * will last, for a Retry-After header.
 */
enum gate_rc gate_enter(const struct gate_limits *, const char *endpoint,
    struct gate_pass *, long                                   *retry_after_s);
/* After each attempt. */
void gate_report(const struct gate_limits *, const char *endpoint,
    struct gate_pass *, enum gate_outcome);
/* 1 when another attempt may follow (the breaker is not open). */
int gate_may_retry(const struct gate_pass *);
/* After the call, whatever came of it. */
void gate_leave(struct gate_pass *);
/* The bulkhead's size for these limits, for logs and tests. */
int gate_capacity(const struct gate_limits *);
/* Slots held among the first n, and the breaker (0 closed, 1 open,
   2 half-open), for GET /metrics. */
void gate_state(int n, int *in_use, int *breaker);

/*
 * The events feed's long-polls (GET /events with wait > 0; doc/
 * architecture.md, The events feed), in the same shared memory:
 * - at most max ([api] max_waiting) wait at once across the pool: a
 *   place is a pid in waiter[], taken by compare-and-swap and freed by
 *   gate_wait_leave, by gate_forget for a reaped worker, or by the next
 *   process that finds every place taken and the owner of one gone, as
 *   for the call slots. gate_wait_enter: 1 with *place taken, 0 when
 *   max wait already or there is no gate (nothing could count them, so
 *   none waits: the answer comes at once);
 * - an events generation per workspace (by id modulo GATE_EVENT_GENS,
 *   so two workspaces may share one: a waiter then looks in its
 *   database for nothing, which is harmless): the webhook handler bumps
 *   it after it committed new events, and a waiter that sees it change
 *   looks at once instead of at its next periodic look. Without a gate
 *   gate_events_gen is always 0 and only the periodic look finds them.
 */
int       gate_wait_enter(int max, int *place);
void      gate_wait_leave(int *place);
void      gate_events_bump(uint64_t workspace);
long long gate_events_gen(uint64_t workspace);

/*
 * What the API gate read for a workspace (its key, workspace and
 * connection rows, apigate_check) may be reused by a worker for [api]
 * gate_lease_ms from before the read, unless the workspace's
 * connection generation (by id modulo GATE_EVENT_GENS, as for events)
 * moved since: every write of the pool to a workspace's connection row
 * bumps it after its commit (store_conn_commit), so every worker of this
 * pool sees the change on its next request. What is changed outside
 * the pool (another host, the admin tool, a hand edit) is seen once the
 * lease is over. gate_conn_gen is -1 without a gate: nothing could say
 * a read went stale, so none is reused.
 */
void      gate_conn_bump(uint64_t workspace);
long long gate_conn_gen(uint64_t workspace);
/*
 * Sleeps until every read a worker (of a pool with this lease_ms)
 * made before now has expired: what a revoke waits.
 */
void gate_conn_settle(int lease_ms);

#endif
