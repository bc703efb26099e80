/*
 * waba-connect-admin prune [--workspace SLUG]: removes webhook events and
 * hourly counters older than [webhooks] retention_days from every
 * workspace (or one), printing progress per batch and per workspace and
 * the totals. Until the monitor runs it, operators schedule it
 * (etc/waba-connect-prune.timer). Safe to run at any time and to
 * interrupt: each batch is its own short transaction. It also deletes
 * the internal API's Idempotency-Keys once their 24 hours are over
 * (store/idempotency.h), which count as absent from then on anyway.
 */
#include <inttypes.h>
#include <stdio.h>

#include "admin.h"
#include "config.h"
#include "store/idempotency.h"
#include "store/retention.h"
#include "store/sql.h"
#include "store/workspaces.h"

struct prune {
	struct ctx *c;
	const char *slug;
	int         workspaces, failed;
	uint64_t    events, hours;
};

static void
prune_progress(const char *table, uint64_t deleted, void *arg)
{
	printf("workspace %s: %s: %" PRIu64 " rows deleted so far\n",
	    (const char *)arg, table, deleted);
}

static int
prune_one(const struct workspace *ws, void *arg)
{
	struct prune *p = arg;
	enum store_rc rc;
	uint64_t      ev, hr;

	unsigned long long keys = 0;

	rc = store_wh_prune(p->c->db, ws, p->c->cfg->webhook_retention_days,
	    prune_progress, (void *)ws->slug, &ev, &hr);
	if (rc == STORE_OK &&
	    (rc = store_idem_prune(p->c->db, ws, RETENTION_BATCH, &keys)) ==
	        STORE_OK &&
	    keys > 0)
		printf("workspace %s: pruned %llu idempotency keys older than "
		       "24 hours\n",
		    ws->slug, keys);
	p->workspaces++;
	p->events += ev;
	p->hours += hr;
	if (rc == STORE_OK) {
		printf("workspace %s: pruned %" PRIu64
		       " webhook events and %" PRIu64 " hourly counters\n",
		    ws->slug, ev, hr);
		return 0;
	}
	p->failed++;
	admin_store_fail(rc, "pruning");
	admin_fail("workspace %s: pruning stopped after %" PRIu64 " events "
	           "and %" PRIu64 " hourly counters",
	    ws->slug, ev, hr);
	/* Workspaces may live on other servers: try them all. */
	return 0;
}

int
admin_prune(struct ctx *c)
{
	struct prune     p = { .c = c, .slug = c->workspace };
	struct workspace ws;
	enum store_rc    rc;
	int              ret;

	printf("pruning webhook events older than %d days\n",
	    c->cfg->webhook_retention_days);
	if (p.slug != NULL) {
		if ((ret = admin_find_workspace(c, p.slug, &ws)) != 0)
			return ret;
		prune_one(&ws, &p);
	} else {
		if (admin_need_db(c, 1) == -1)
			return EX_FAIL;
		if ((rc = store_ws_each(c->db, prune_one, &p)) != STORE_OK &&
		    p.failed == 0)
			return admin_store_fail(rc, "listing workspaces");
	}
	printf("pruned %" PRIu64 " webhook events and %" PRIu64 " hourly "
	       "counters in %d workspace(s)\n",
	    p.events, p.hours, p.workspaces);
	if (p.failed)
		return admin_fail("%d workspace(s) not fully pruned", p.failed);
	return 0;
}
