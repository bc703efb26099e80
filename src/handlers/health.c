/*
 * /healthz: what a load balancer or monitor asks before it sends this
 * worker traffic. It answers from the one dependency every page needs,
 * and does nothing else, so it stays cheap to poll.
 */
#include <stddef.h>

#include "../app.h"
#include "../db.h"
#include "../log.h"
#include "../response.h"
#include "handlers.h"

/*
 * Load balancers and monitors poll this: it must be cheap and must say
 * the truth about the one dependency every page needs, the control
 * database. db_ping reconnects once, so a restarted MariaDB turns this
 * green again without restarting the pool.
 */
enum answer
h_healthz(struct ctx *c)
{
	char err[256];

	if (db_ping(c->app->db, err, sizeof(err)) == -1) {
		log_warn("healthz: %s", err);
		resp_text(c->resp, 503, "database unavailable\n");
		return ANSWERED;
	}
	resp_text(c->resp, 200, "ok\n");
	return ANSWERED;
}
