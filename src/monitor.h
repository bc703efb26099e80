/*
 * monitor: the health monitor (doc/architecture.md, The health monitor;
 * doc/contract.md, Health monitor). It finds out on its own when a
 * connection is in trouble: per connected workspace, once per [monitor]
 * interval_minutes, it asks Meta whether the token is valid and still
 * grants the WABA, how each active number stands (quality, health_status,
 * messaging limit, display name, where Meta delivers its webhooks) and
 * whether our app is still subscribed to the WABA (subscribing it again
 * once when not); it stores what it found (store/monitor.h), marks a
 * connection whose token is dead needs_reconnect, and lets a passing
 * check restore one (as Verify does).
 *
 * The same code runs as `waba-connect-admin monitor [--once]` and as a
 * child of the standalone supervisor (pool.c). Several monitors share
 * the work through per-workspace leases in the control database; none
 * takes a worker's Meta capacity (graph_set_background).
 */
#ifndef WABA_MONITOR_H
#define WABA_MONITOR_H

#include <signal.h>
#include <stdint.h>

#include "store/sql.h"

struct config;
struct db;
struct graph;
struct vault;
struct workspace;

struct monitor {
	const struct config *cfg;
	struct db           *db;
	struct vault       **vault; /* may be reloaded (keys rotate) */
	struct graph        *graph;
	char                 owner[128]; /* host:pid, the lease holder */
	/* Progress lines on stderr every this many workspaces; 0: none. */
	int progress_every;
	/* Set by a signal handler: stop after the current workspace. */
	volatile sig_atomic_t *stop;
	/* The last pass: checked (finished), failed (Meta or the
	   database), busy (--workspace held by another monitor). */
	int checked, failed, skipped, busy;
	int stuck; /* claims the control database refused */
	/* monitor_check_now's: the calls share the request's budget. */
	int in_request;
	/* The last check's findings: the warnings it saved (-1: it saved
	   none), whether it marked the connection needs_reconnect. */
	int found_warnings, found_reconnect;
};

/*
 * Fills m; the graph handle becomes the monitor's (no bulkhead slot).
 */
void monitor_init(struct monitor *m, const struct config *, struct db *,
    struct vault **, struct graph *);
/*
 * One pass: every workspace that is due and not leased, or only ws
 * (checked now, due or not, unless another monitor holds it: m->busy).
 * STORE_OK, or the control database's failure (logged).
 */
enum store_rc monitor_pass(struct monitor *, const struct workspace *only);
/*
 * Passes until *m->stop, sleeping between them in ppoll with wait_mask
 * (the signals that set *m->stop must be blocked outside it).
 */
void monitor_loop(struct monitor *, const sigset_t *wait_mask);

/*
 * When the monitor next checks workspace id after a check that finished
 * at unix time t, with interval_s between checks: the point
 * store_mon_release gives it (the settings page shows it without
 * reading the lease, which lives in the control database).
 */
int64_t monitor_next_check(uint64_t id, long interval_s, int64_t t);

/* Check now: at most one per this many seconds per workspace. */
#define MONITOR_NOW_GAP_S 60

enum mon_now {
	MON_NOW_OK,            /* checked: nothing to warn about */
	MON_NOW_WARNINGS,      /* checked: *warnings warnings stored */
	MON_NOW_RECONNECT,     /* checked: the connection needs_reconnect */
	MON_NOW_FAILED,        /* Meta failed: last_error says why */
	MON_NOW_NOT_CONNECTED, /* nothing to check */
	MON_NOW_BUSY, /* checked less than MONITOR_NOW_GAP_S ago, or now */
	MON_NOW_DB    /* the database failed */
};

/*
 * Check now (the settings page): ws checked at once, inside the
 * request, with the worker's Graph handle, so its calls share the
 * request's budget and bulkhead slot. It takes ws's lease as a monitor
 * would, for MONITOR_NOW_GAP_S at least, and keeps it taken until then
 * (store_mon_release_held): a second press, on any worker, is refused
 * (MON_NOW_BUSY) without a call to Meta, and so is a press while a
 * monitor checks ws.
 */
enum mon_now monitor_check_now(const struct config *, struct db *,
    struct vault **, struct graph *, const struct workspace *, int *warnings);

#endif
