/*
 * meta_gate: the bulkhead (slots across processes, freed when their
 * owner dies) and the circuit breaker (open, half-open probe, closed).
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "log.h"
#include "meta_gate.h"
#include "harness.h"

static const struct gate_limits lim6 = { 0, 3, 1, 5000, 0 };

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Before gate_init_*: no gate, every call goes. */
static void
test_no_gate(void)
{
	struct gate_pass p;
	long             ra;
	int              i;

	for (i = 0; i < 300; i++) {
		CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
		CU_ASSERT_FALSE(p.active);
		gate_report(&lim6, "t", &p, GATE_DOWN);
		CU_ASSERT_TRUE(gate_may_retry(&p));
		gate_leave(&p);
	}
	/* Nothing could say a gate read went stale: none is reused. */
	CU_ASSERT_EQUAL(gate_conn_gen(7), -1);
	gate_conn_bump(7);
	CU_ASSERT_EQUAL(gate_conn_gen(7), -1);
}

static void
test_bulkhead(void)
{
	struct gate_pass   p[4];
	struct gate_limits one = lim6, bg = lim6;
	char               err[256];
	long               ra;
	int                i;

	CU_ASSERT_EQUAL_FATAL(gate_init_pool(6, err, sizeof(err)), 0);
	/* Default: half the pool's workers. */
	CU_ASSERT_EQUAL(gate_capacity(&lim6), 3);
	one.max_calls = 1;
	CU_ASSERT_EQUAL(gate_capacity(&one), 1);
	one.max_calls = 10000;
	CU_ASSERT_EQUAL(gate_capacity(&one), GATE_SLOTS);
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p[i], &ra), GATE_OK);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p[3], &ra), GATE_BUSY);
	CU_ASSERT_EQUAL(ra, 1);
	CU_ASSERT_FALSE(p[3].active);
	/* The health monitor takes no slot: it passes a full bulkhead,
	   and takes none of the workers' either. */
	bg.no_slot = 1;
	CU_ASSERT_EQUAL(gate_enter(&bg, "monitor", &p[3], &ra), GATE_OK);
	CU_ASSERT_TRUE(p[3].active);
	CU_ASSERT_EQUAL(p[3].slot, -1);
	gate_leave(&p[3]);
	gate_leave(&p[1]);
	CU_ASSERT_EQUAL(gate_enter(&bg, "monitor", &p[3], &ra), GATE_OK);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p[1], &ra), GATE_OK);
	gate_leave(&p[3]);
	for (i = 0; i < 3; i++)
		gate_leave(&p[i]);
}

/*
 * A child takes a slot and never gives it back: killed (the supervisor
 * reaps it and calls gate_forget), or gone unreaped by us (the next
 * caller that finds the slots full frees it).
 */
static void
test_dead_owner(void)
{
	struct gate_pass p[3], q;
	int              fds[2], st, round;
	char             c;
	long             ra;
	pid_t            pid;

	for (round = 0; round < 2; round++) {
		CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
		if ((pid = fork()) == 0) {
			close(fds[0]);
			if (gate_enter(&lim6, "child", &q, &ra) != GATE_OK ||
			    write(fds[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		close(fds[1]);
		CU_ASSERT_EQUAL(read(fds[0], &c, 1), 1);
		close(fds[0]);
		CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p[0], &ra), GATE_OK);
		CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p[1], &ra), GATE_OK);
		/* With the child's slot, all three are taken while it
		   lives. */
		CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p[2], &ra), GATE_BUSY);
		kill(pid, SIGKILL);
		CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
		if (round == 0)
			gate_forget(pid);
		/* Round 1: reaped, so its pid is nobody's: reclaimed. */
		CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p[2], &ra), GATE_OK);
		gate_leave(&p[0]);
		gate_leave(&p[1]);
		gate_leave(&p[2]);
	}
}

static void
fail_once(const struct gate_limits *l)
{
	struct gate_pass p;
	long             ra;

	CU_ASSERT_EQUAL(gate_enter(l, "t", &p, &ra), GATE_OK);
	gate_report(l, "t", &p, GATE_DOWN);
	gate_leave(&p);
}

static void
test_breaker(void)
{
	struct gate_pass p, q;
	long             ra;

	/* Not consecutive: an answer in between resets the count. */
	fail_once(&lim6);
	fail_once(&lim6);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
	gate_report(&lim6, "t", &p, GATE_UP);
	gate_leave(&p);
	fail_once(&lim6);
	fail_once(&lim6);
	/* Neutral outcomes (connection refused...) count for nothing. */
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
	gate_report(&lim6, "t", &p, GATE_NEUTRAL);
	CU_ASSERT_TRUE(gate_may_retry(&p));
	gate_leave(&p);
	/* A call already under way when it opens... */
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &q, &ra), GATE_OK);
	/* The third consecutive failure opens it, and stops retries. */
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
	gate_report(&lim6, "t", &p, GATE_DOWN);
	CU_ASSERT_FALSE(gate_may_retry(&p));
	gate_leave(&p);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OPEN);
	CU_ASSERT_EQUAL(ra, 1);
	{
		/* The monitor obeys the breaker too, slot or no slot. */
		struct gate_limits bg = lim6;

		bg.no_slot = 1;
		CU_ASSERT_EQUAL(gate_enter(&bg, "monitor", &p, &ra), GATE_OPEN);
	}
	/* ...that then succeeds is no probe: the breaker stays open. */
	gate_report(&lim6, "t", &q, GATE_UP);
	gate_leave(&q);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OPEN);
	/* After breaker_seconds: one probe, the others still fail fast. */
	sleep_ms(1100);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
	CU_ASSERT_TRUE(p.probe);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &q, &ra), GATE_OPEN);
	/* The probe fails: open again for breaker_seconds. */
	gate_report(&lim6, "t", &p, GATE_DOWN);
	CU_ASSERT_FALSE(gate_may_retry(&p));
	gate_leave(&p);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OPEN);
	sleep_ms(1100);
	/* A probe that ends without a verdict lets the next one go. */
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
	CU_ASSERT_TRUE(p.probe);
	gate_leave(&p);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
	CU_ASSERT_TRUE(p.probe);
	/* It succeeds: closed, every call goes again. */
	gate_report(&lim6, "t", &p, GATE_UP);
	gate_leave(&p);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &p, &ra), GATE_OK);
	CU_ASSERT_FALSE(p.probe);
	CU_ASSERT_EQUAL(gate_enter(&lim6, "t", &q, &ra), GATE_OK);
	gate_leave(&q);
	gate_leave(&p);
}

static int
before_meta_gate(void)
{
	log_init("test_meta_gate", LOG_LVL_ERROR);
	return 0;
}

/*
 * The events feed's long-polls: at most max places across the pool, one
 * per process pid; a child killed while waiting loses its place
 * (gate_forget, or reclaimed when the places are full). The events
 * generation moves for its workspace only (modulo GATE_EVENT_GENS).
 */
static void
test_waiters(void)
{
	int       fds[2], st, a, b, round;
	char      c;
	long long g0, g1;
	pid_t     pid;

	for (round = 0; round < 2; round++) {
		CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
		if ((pid = fork()) == 0) {
			close(fds[0]);
			if (gate_wait_enter(2, &a) != 1 || a < 0 ||
			    write(fds[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		close(fds[1]);
		CU_ASSERT_EQUAL(read(fds[0], &c, 1), 1);
		close(fds[0]);
		CU_ASSERT_EQUAL(gate_wait_enter(2, &a), 1);
		CU_ASSERT(a >= 0);
		/* The child and we: max 2 taken. */
		CU_ASSERT_EQUAL(gate_wait_enter(2, &b), 0);
		CU_ASSERT_EQUAL(b, -1);
		kill(pid, SIGKILL);
		CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
		if (round == 0)
			gate_forget(pid);
		CU_ASSERT_EQUAL(gate_wait_enter(2, &b), 1);
		gate_wait_leave(&a);
		CU_ASSERT_EQUAL(a, -1);
		gate_wait_leave(&b);
	}
	g0 = gate_events_gen(7);
	g1 = gate_events_gen(8);
	gate_events_bump(7);
	CU_ASSERT_EQUAL(gate_events_gen(7), g0 + 1);
	CU_ASSERT_EQUAL(gate_events_gen(7 + GATE_EVENT_GENS), g0 + 1);
	CU_ASSERT_EQUAL(gate_events_gen(8), g1);
}

/* The connection generations: apart from the events', from 0. */
static void
test_conn_gens(void)
{
	long long e = gate_events_gen(7);
	long long start = gate_conn_gen(7);

	CU_ASSERT_TRUE(start >= 0);
	gate_conn_bump(7);
	CU_ASSERT_EQUAL(gate_conn_gen(7), start + 1);
	CU_ASSERT_EQUAL(gate_conn_gen(7 + GATE_EVENT_GENS), start + 1);
	CU_ASSERT_EQUAL(gate_events_gen(7), e);
	gate_events_bump(8);
	CU_ASSERT_EQUAL(gate_conn_gen(8), gate_conn_gen(8 + GATE_EVENT_GENS));
	CU_ASSERT_EQUAL(gate_conn_gen(7), start + 1);
}

static const struct ut_test tests[] = { { "no gate", test_no_gate },
	{ "bulkhead", test_bulkhead }, { "dead owner", test_dead_owner },
	{ "breaker", test_breaker }, { "waiters", test_waiters },
	{ "connection generations", test_conn_gens }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "meta_gate", before_meta_gate, NULL,
	                                  NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
