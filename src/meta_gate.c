/*
 * meta_gate: the bulkhead and the circuit breaker around Meta calls, in
 * memory shared by the pool's processes (the model is in meta_gate.h).
 *
 * Everything shared is a lock-free C11 atomic: a lock would be held by
 * a worker that is then killed, and nothing could take it back. Times
 * are CLOCK_MONOTONIC milliseconds, one clock for every process on the
 * host. An all-zero state is valid (breaker closed, slots free), so a
 * fresh mapping needs no initialisation and a segment two spawned
 * processes create at once is consistent.
 */

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "meta_gate.h"
#include "shm.h"

/*
 * Bump when a member of struct gate_shm changes place: a named segment
 * outlives us. Members appended at the end need no bump: a segment made
 * by an older process is grown (zero-filled) by the first newer one.
 */
#define GATE_NAME_FMT "/waba-connect-gate-v1.%lu.%08lx"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "process-shared atomics");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "process-shared atomics");

struct gate_shm {
	atomic_int   pool_workers;
	atomic_int   fails;       /* consecutive timeouts/5xx */
	atomic_llong open_until;  /* 0: closed; else open until, then
					   half-open */
	atomic_llong probe_until; /* half-open: the probe's claim */
	atomic_int   probe_pid;
	atomic_int   slot[GATE_SLOTS]; /* owner pid, 0: free */
	/* The events feed (gate_wait_*, gate_events_*): appended. */
	atomic_int   waiter[GATE_SLOTS]; /* a long-poll's pid, 0: free */
	atomic_llong events_gen[GATE_EVENT_GENS];
	/* The API gate's reuse of its reads (gate_conn_*): appended. */
	atomic_llong conn_gen[GATE_EVENT_GENS];
};

static struct gate_shm *gate;

int
gate_init_pool(int nworkers, char *err, size_t errlen)
{
	if ((gate = shm_anon("meta gate", sizeof(*gate), err, errlen)) == NULL)
		return -1;
	atomic_store(&gate->pool_workers, nworkers);
	return 0;
}

int
gate_init_spawned(const char *config_path, int nworkers, char *err,
    size_t errlen)
{
	if ((gate = shm_named("meta gate", GATE_NAME_FMT, config_path,
	         sizeof(*gate), err, errlen)) == NULL)
		return -1;
	atomic_store(&gate->pool_workers, nworkers);
	return 0;
}

int
gate_attach_spawned(const char *config_path, char *err, size_t errlen)
{
	gate = shm_named_existing("meta gate", GATE_NAME_FMT, config_path,
	    sizeof(*gate), err, errlen);
	if (gate != NULL)
		return 0;
	return errno == ENOENT ? 1 : -1;
}

void
gate_forget(pid_t pid)
{
	int i, owner;

	if (gate == NULL || pid <= 0)
		return;
	for (i = 0; i < GATE_SLOTS; i++) {
		owner = (int)pid;
		if (atomic_compare_exchange_strong(&gate->slot[i], &owner, 0))
			log_warn("meta gate: worker %ld died inside a Meta "
			         "call; its call slot is free again",
			    (long)pid);
	}
	owner = (int)pid;
	if (atomic_compare_exchange_strong(&gate->probe_pid, &owner, 0))
		atomic_store(&gate->probe_until, 0);
	for (i = 0; i < GATE_SLOTS; i++) {
		owner = (int)pid;
		atomic_compare_exchange_strong(&gate->waiter[i], &owner, 0);
	}
}

int
gate_capacity(const struct gate_limits *lim)
{
	int n = lim->max_calls;

	if (n <= 0 && gate != NULL)
		n = atomic_load(&gate->pool_workers) / 2;
	if (n < 1)
		n = 1;
	return n > GATE_SLOTS ? GATE_SLOTS : n;
}

/*
 * Frees slots whose owner no longer exists: a worker killed inside a
 * call whose death no supervisor reported (spawned mode), or one not
 * reaped yet. kill(pid, 0) fails with ESRCH only for a pid nobody has.
 */
static int
gate_reclaim(int n)
{
	int i, pid, freed = 0;

	for (i = 0; i < n; i++) {
		pid = atomic_load(&gate->slot[i]);
		if (pid <= 0 || pid == (int)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (atomic_compare_exchange_strong(&gate->slot[i], &pid, 0)) {
			log_warn("meta gate: process %d died inside a Meta "
			         "call; its call slot is free again",
			    pid);
			freed++;
		}
	}
	return freed;
}

/* As gate_reclaim, for the long-polls' places. */
static int
gate_reclaim_waiters(int n)
{
	int i, pid, freed = 0;

	for (i = 0; i < n; i++) {
		pid = atomic_load(&gate->waiter[i]);
		if (pid <= 0 || pid == (int)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		freed += atomic_compare_exchange_strong(&gate->waiter[i], &pid,
		    0);
	}
	return freed;
}

static int
gate_take_slot(int n)
{
	int i, pass, free_;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			free_ = 0;
			if (atomic_compare_exchange_strong(&gate->slot[i],
			        &free_, (int)getpid()))
				return i;
		}
		if (pass == 0 && gate_reclaim(n) == 0)
			break;
	}
	return -1;
}

enum gate_rc
gate_enter(const struct gate_limits *lim, const char *endpoint,
    struct gate_pass *p, long *retry_after_s)
{
	long long now, until, claim;
	int       n;

	p->slot = -1;
	p->probe = p->active = 0;
	*retry_after_s = 0;
	if (gate == NULL)
		return GATE_OK;
	now = clk_ms();
	if ((until = atomic_load(&gate->open_until)) != 0) {
		if (now < until) {
			*retry_after_s = (long)((until - now + 999) / 1000);
			return GATE_OPEN;
		}
		/* Half-open: the first to claim the probe goes. */
		claim = atomic_load(&gate->probe_until);
		if (claim > now ||
		    !atomic_compare_exchange_strong(&gate->probe_until, &claim,
		        now + lim->probe_ms)) {
			*retry_after_s = 1;
			return GATE_OPEN;
		}
		atomic_store(&gate->probe_pid, (int)getpid());
		p->probe = 1;
	}
	n = gate_capacity(lim);
	if (lim->no_slot) {
		p->active = 1;
		return GATE_OK;
	}
	if ((p->slot = gate_take_slot(n)) == -1) {
		if (p->probe) {
			atomic_store(&gate->probe_pid, 0);
			atomic_store(&gate->probe_until, 0);
			p->probe = 0;
		}
		*retry_after_s = 1;
		log_warn("meta gate: %d Meta calls in flight "
		         "(max_concurrent_calls), %s refused",
		    n, endpoint);
		return GATE_BUSY;
	}
	if (p->probe)
		log_info("meta gate: circuit breaker half-open: %s is the "
		         "probe",
		    endpoint);
	p->active = 1;
	return GATE_OK;
}

void
gate_report(const struct gate_limits *lim, const char *endpoint,
    struct gate_pass *p, enum gate_outcome o)
{
	long long closed = 0, until;
	int       n;

	if (!p->active || o == GATE_NEUTRAL)
		return;
	until = clk_ms() + (long long)lim->breaker_seconds * 1000;
	/*
	 * Only the probe closes an open breaker: a call that was already
	 * under way when it opened and then got an answer says little
	 * about Meta now, and must not let every worker in again.
	 */
	if (o == GATE_UP) {
		if (p->probe) {
			atomic_store(&gate->fails, 0);
			if (atomic_exchange(&gate->open_until, 0) != 0)
				log_info("meta gate: circuit breaker closed: "
				         "Meta answered %s",
				    endpoint);
			atomic_store(&gate->probe_pid, 0);
			atomic_store(&gate->probe_until, 0);
			p->probe = 0;
		} else if (atomic_load(&gate->open_until) == 0)
			atomic_store(&gate->fails, 0);
		return;
	}
	if (p->probe) {
		atomic_store(&gate->open_until, until);
		atomic_store(&gate->probe_pid, 0);
		atomic_store(&gate->probe_until, 0);
		p->probe = 0;
		log_warn("meta gate: circuit breaker probe %s failed: open "
		         "again, Meta calls fail fast for %d s",
		    endpoint, lim->breaker_seconds);
		return;
	}
	n = atomic_fetch_add(&gate->fails, 1) + 1;
	if (n >= lim->breaker_failures &&
	    atomic_compare_exchange_strong(&gate->open_until, &closed, until))
		log_warn(
		    "meta gate: circuit breaker open after %d consecutive "
		    "timeouts/5xx from Meta (last: %s): Meta calls fail fast "
		    "for %d s",
		    n, endpoint, lim->breaker_seconds);
}

int
gate_may_retry(const struct gate_pass *p)
{
	return !p->active || atomic_load(&gate->open_until) == 0;
}

void
gate_leave(struct gate_pass *p)
{
	int me = (int)getpid();

	if (!p->active)
		return;
	if (p->slot >= 0)
		atomic_compare_exchange_strong(&gate->slot[p->slot], &me, 0);
	/* A probe that ended without a verdict lets the next one go. */
	if (p->probe) {
		atomic_store(&gate->probe_pid, 0);
		atomic_store(&gate->probe_until, 0);
	}
	p->slot = -1;
	p->probe = p->active = 0;
}

int
gate_wait_enter(int max, int *place)
{
	int i, pass, free_;

	*place = -1;
	/* Nothing could count them: no long-poll waits at all. */
	if (gate == NULL)
		return 0;
	if (max > GATE_SLOTS)
		max = GATE_SLOTS;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < max; i++) {
			free_ = 0;
			if (atomic_compare_exchange_strong(&gate->waiter[i],
			        &free_, (int)getpid())) {
				*place = i;
				return 1;
			}
		}
		if (pass == 0 && gate_reclaim_waiters(max) == 0)
			break;
	}
	return 0;
}

void
gate_wait_leave(int *place)
{
	int me = (int)getpid();

	if (gate != NULL && *place >= 0 && *place < GATE_SLOTS)
		atomic_compare_exchange_strong(&gate->waiter[*place], &me, 0);
	*place = -1;
}

void
gate_events_bump(uint64_t workspace)
{
	if (gate != NULL)
		atomic_fetch_add(&gate->events_gen[workspace % GATE_EVENT_GENS],
		    1);
}

long long
gate_events_gen(uint64_t workspace)
{
	return gate != NULL
	    ? atomic_load(&gate->events_gen[workspace % GATE_EVENT_GENS])
	    : 0;
}

void
gate_conn_bump(uint64_t workspace)
{
	if (gate != NULL)
		atomic_fetch_add(&gate->conn_gen[workspace % GATE_EVENT_GENS],
		    1);
}

long long
gate_conn_gen(uint64_t workspace)
{
	return gate != NULL
	    ? atomic_load(&gate->conn_gen[workspace % GATE_EVENT_GENS])
	    : -1;
}

void
gate_conn_settle(int lease_ms)
{
	/* A tenth more: clocks on two hosts need not tick alike. */
	long long       ms = (long long)lease_ms * 11 / 10;
	struct timespec ts = { (time_t)(ms / 1000),
		(long)(ms % 1000) * 1000000L };

	if (lease_ms <= 0)
		return;

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * For GET /metrics: calls in flight now (slots held, of the first n)
 * and the breaker's state, 0 closed, 1 open, 2 half-open (open_until
 * passed: the next call is the probe).
 */
void
gate_state(int n, int *in_use, int *breaker)
{
	long long until;
	int       i;

	*in_use = *breaker = 0;
	if (gate == NULL)
		return;
	for (i = 0; i < n && i < GATE_SLOTS; i++)
		*in_use += atomic_load(&gate->slot[i]) != 0;
	if ((until = atomic_load(&gate->open_until)) != 0)
		*breaker = clk_ms() < until ? 1 : 2;
}
