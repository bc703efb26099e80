/*
 * waba-connect-admin monitor [--once] [--workspace SLUG] and health
 * [--json] (doc/contract.md, Admin commands; monitor.h). monitor runs
 * the health monitor in the foreground until SIGTERM or SIGINT, or one
 * pass with --once (etc/waba-connect-monitor.timer), or checks one
 * workspace now with --workspace. Its passes (not --workspace) count
 * in the /metrics of the workers the web server spawns with the same
 * config, run as the same user, when those have made their segment. health lists every workspace with a
 * problem now, from what the monitor stored: exit 1 when there is one,
 * so a monitoring system can alert on the exit status alone.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "admin.h"
#include "config.h"
#include "graph.h"
#include "metrics.h"
#include "meta_gate.h"
#include "monitor.h"
#include "store/connection.h"
#include "store/monitor.h"
#include "store/sql.h"
#include "store/workspaces.h"
#include "vault.h"

/* A progress line per this many workspaces, on a terminal. */
#define ADMIN_MONITOR_EVERY 50

static volatile sig_atomic_t admin_monitor_stop;

static void
admin_monitor_on_signal(int sig)
{
	(void)sig;
	admin_monitor_stop = 1;
}

static void
admin_monitor_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t         block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = admin_monitor_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Blocked but in the sleep: a check in progress finishes. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
}

int
admin_monitor(struct ctx *c)
{
	struct monitor   m;
	struct workspace ws;
	struct vault    *v = NULL;
	struct graph    *g = NULL;
	sigset_t         wait_mask;
	struct timespec  t0, t1;
	char             err[512];
	enum store_rc    rc;
	int              ret = EX_FAIL;

	if (c->workspace != NULL) {
		if ((ret = admin_find_workspace(c, c->workspace, &ws)) != 0)
			return ret;
		ret = EX_FAIL;
	} else if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return admin_fail("%s", err);
	if ((g = graph_new(c->cfg)) == NULL) {
		admin_fail("cannot set up the Meta Graph client");
		goto out;
	}
	admin_monitor_signals(&wait_mask);
	/*
	 * Passes count where the workers' /metrics read them: the named
	 * segment of this user and config, when workers the web server
	 * spawns have made it (a timer's pass must not leave one behind
	 * where nothing reads it). One workspace checked is not a pass.
	 */
	if (c->workspace == NULL && c->config_path != NULL &&
	    metrics_attach_spawned(c->config_path, err, sizeof(err)) == -1)
		fprintf(stderr, PROG ": %s: this pass is in no /metrics\n",
		    err);
	/*
	 * The same for the gate: what a check changes in a connection ends
	 * the workers' reuse of it at once (meta_gate.h), and the checks
	 * obey their breaker as a pool's own monitor does.
	 */
	if (c->config_path != NULL &&
	    gate_attach_spawned(c->config_path, err, sizeof(err)) == -1)
		fprintf(stderr,
		    PROG ": %s: workers see this pass's changes within [api] "
		         "gate_lease_ms\n",
		    err);
	monitor_init(&m, c->cfg, c->db, &v, g);
	m.stop = &admin_monitor_stop;
	if (isatty(STDOUT_FILENO) || isatty(STDERR_FILENO))
		m.progress_every = ADMIN_MONITOR_EVERY;
	if (!c->once && c->workspace == NULL) {
		monitor_loop(&m, &wait_mask);
		ret = 0;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = monitor_pass(&m, c->workspace ? &ws : NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (c->workspace == NULL)
		metrics_monitor_pass((long long)(t1.tv_sec - t0.tv_sec) *
		            1000000 +
		        (t1.tv_nsec - t0.tv_nsec) / 1000,
		    rc != STORE_OK || m.failed > 0);
	if (rc != STORE_OK) {
		ret = admin_store_fail(rc, "listing the workspaces due");
		goto out;
	}
	if (m.busy) {
		ret = admin_fail("workspace %s is being checked by another "
		                 "monitor right now",
		    ws.slug);
		goto out;
	}
	printf("monitor: %d workspace(s) checked, %d failed, %d not "
	       "connected\n",
	    m.checked, m.failed, m.skipped);
	ret = m.failed ? admin_fail("%d check(s) failed: see the log, or "
	                            "`" PROG " health`",
	                     m.failed)
	               : 0;
out:
	graph_free(g);
	vault_close(v);
	return ret;
}

/* ---- health ------------------------------------------------------------ */

struct admin_health {
	struct ctx  *c;
	json_object *all; /* --json: the objects, printed one a line */
	int          problems, failed;
};

/* The warnings' messages, for the one-line form. */
static void
admin_health_line(const struct workspace *ws, const struct conn_row *r,
    const struct mon_health *h, json_object *warnings)
{
	size_t       i, n = warnings ? json_object_array_length(warnings) : 0;
	json_object *msg;

	printf("%s: %s", ws->slug, r->status);
	if (*r->reason)
		printf(" (%s)", r->reason);
	if (*h->last_error)
		printf("; last check failed: %s", h->last_error);
	for (i = 0; i < n; i++)
		if (json_object_object_get_ex(
		        json_object_array_get_idx(warnings, i), "message",
		        &msg))
			printf("; %s", json_object_get_string(msg));
	printf("\n");
}

static int
admin_health_one(const struct workspace *ws, void *arg)
{
	struct admin_health *a = arg;
	struct conn_row      r;
	struct mon_health    h;
	json_object         *warnings = NULL, *o;
	int                  problem;

	memset(&h, 0, sizeof(h));
	if (store_conn_get(a->c->db, ws, &r) != STORE_OK ||
	    store_mon_health_get(a->c->db, ws, &h) != STORE_OK) {
		/* Its database is unreachable: that is a problem too. */
		a->failed++;
		a->problems++;
		if (a->all == NULL)
			printf("%s: its database cannot be read\n", ws->slug);
		else if ((o = json_object_new_object()) != NULL) {
			json_object_object_add(o, "workspace",
			    json_object_new_string(ws->slug));
			json_object_object_add(o, "error",
			    json_object_new_string("database unreachable"));
			json_object_array_add(a->all, o);
		}
		store_mon_health_free(&h);
		return 0;
	}
	if (h.warnings != NULL)
		warnings = json_tokener_parse(h.warnings);
	problem = strcmp(r.status, "needs_reconnect") == 0 || *h.last_error ||
	    (warnings && json_object_array_length(warnings) > 0);
	if (problem) {
		a->problems++;
		if (a->all == NULL)
			admin_health_line(ws, &r, &h, warnings);
		else if ((o = json_object_new_object()) != NULL) {
			json_object_object_add(o, "workspace",
			    json_object_new_string(ws->slug));
			json_object_object_add(o, "status",
			    json_object_new_string(r.status));
			json_object_object_add(o, "reason",
			    admin_jstr(r.reason));
			json_object_object_add(o, "checked_at",
			    admin_jstr(h.checked_at));
			json_object_object_add(o, "last_error",
			    admin_jstr(h.last_error));
			json_object_object_add(o, "warnings",
			    warnings ? json_object_get(warnings)
			             : json_object_new_array());
			json_object_array_add(a->all, o);
		}
	}
	json_object_put(warnings);
	store_mon_health_free(&h);
	return 0;
}

int
admin_health(struct ctx *c)
{
	struct admin_health a = { .c = c };
	enum store_rc       rc;
	size_t              i;
	int                 ret = 0;

	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	if (c->json && (a.all = json_object_new_array()) == NULL)
		return admin_fail("out of memory");
	if ((rc = store_ws_each(c->db, admin_health_one, &a)) != STORE_OK &&
	    a.failed == 0) {
		json_object_put(a.all);
		return admin_store_fail(rc, "listing workspaces");
	}
	/* One object a line: a script reads them as they come. */
	for (i = 0; a.all && i < json_object_array_length(a.all); i++)
		if (admin_print_json(json_object_array_get_idx(a.all, i)) != 0)
			ret = EX_FAIL;
	json_object_put(a.all);
	if (!c->json && a.problems == 0)
		printf("no workspace has a problem\n");
	if (ret)
		return ret;
	return a.problems
	    ? admin_fail("%d workspace(s) with a problem", a.problems)
	    : 0;
}
