/*
 * routes: webhook routing (doc/architecture.md, The webhook path): Meta's
 * phone_number_id and WABA id → the workspace, in the control database.
 * The routes are what the connection rows say:
 * - a number routes to the one workspace that uses it (phone_numbers):
 *   a number another workspace uses cannot be added (STORE_DUP), so
 *   events that name a number (messages, statuses, errors) go by its
 *   route only;
 * - a WABA routes to the workspace whose connection chose it (waba_id),
 *   taking it from any other; a WABA a token merely grants (waba_ids,
 *   not chosen) routes to that workspace only while no route for it
 *   exists, for account_update (PARTNER_ADDED...) before the merchant
 *   chooses, and is taken over as soon as another workspace chooses it;
 * - when the workspace that chose a WABA lets it go, a workspace still
 *   granted it (webhook_grants) gets its route at once.
 */
#ifndef WABA_ROUTES_H
#define WABA_ROUTES_H

#include <stdint.h>

#include "sql.h"

struct db;

/*
 * Makes the workspace's routes exactly granted (comma-separated, may be
 * NULL), chosen (may be NULL) and phones (comma-separated, may be NULL),
 * in one transaction: its other routes go. All NULL clears them
 * (disconnect). STORE_DUP, with nothing changed, when one of phones
 * routes to another workspace.
 */
enum store_rc store_route_replace(struct db *, uint64_t workspace,
    const char *granted, const char *chosen, const char *phones);
enum store_rc store_route_find(struct db *, const char *kind,
    const char *external_id, uint64_t *workspace);
/*
 * store_route_find with the workspace's row, in one statement (a
 * webhook delivery's first round trip). ws->id is 0 when the route
 * names a workspace that is gone.
 */
struct workspace;
enum store_rc store_route_find_ws(struct db *, const char *kind,
    const char *external_id, uint64_t *workspace, struct workspace *ws);

#endif
