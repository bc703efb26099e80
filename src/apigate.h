/*
 * apigate: who may make an internal API request (apigate.c).
 */
#ifndef WABA_APIGATE_H
#define WABA_APIGATE_H

#include "app.h"
#include "router.h"

/*
 * The key, the route's scope and the {slug} workspace, in that order:
 * GO_ON with c->ws (and for a ROUTE_CONN route c->pre_conn, c->pre_box)
 * filled, or ANSWERED with the JSON refusal (401, 403, 404, 503).
 */
enum answer apigate_check(struct ctx *, const struct route *);
/* What the gate keeps in a (app_free). */
void apigate_free(struct app *);

#endif
