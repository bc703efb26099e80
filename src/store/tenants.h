/*
 * tenants: the control database's directory of workspaces, users and
 * who belongs where. A workspace row names the database and the server
 * that hold its data, so workspaces can live on several MySQL servers.
 */
#ifndef WABA_TENANTS_H
#define WABA_TENANTS_H

#include <stdint.h>

#include "../db.h"
#include "sql.h"

struct workspace {
	uint64_t	 id;
	char		 slug[64];
	char		 name[201];
	char		 db_name[65];	/* [a-z0-9_] only: safe to quote */
	struct db_server srv;		/* empty: the control server */
};

struct user {
	uint64_t	 id;
	char		 email[255];
};

enum store_rc	 store_ws_by_slug(struct db *, const char *slug,
		    struct workspace *);
enum store_rc	 store_ws_by_id(struct db *, uint64_t,
		    struct workspace *);
/* Creates the row (and names its database); STORE_DUP when slug exists. */
/*
 * Adds a workspace whose database lives on srv (NULL, or empty host and
 * socket: the control DB's server), named from its id.
 */
enum store_rc	 store_ws_add(struct db *, const char *slug,
		    const char *name, const struct db_server *srv,
		    struct workspace *);
/* Calls fn for every workspace, by id; stops at the first non-zero. */
enum store_rc	 store_ws_each(struct db *,
		    int (*fn)(const struct workspace *, void *), void *);
/* The user with that email and the stored password hash (caller's buffer). */
enum store_rc	 store_user_by_email(struct db *, const char *email,
		    struct user *, char *hash, size_t hashlen);
enum store_rc	 store_user_add(struct db *, const char *email,
		    const char *hash, uint64_t *id);
enum store_rc	 store_user_member_add(struct db *, uint64_t user,
		    uint64_t workspace);
/* STORE_OK when user belongs to workspace, STORE_NOTFOUND when not. */
enum store_rc	 store_user_is_member(struct db *, uint64_t user,
		    uint64_t workspace);
/* The user's first workspace (where sign-in lands). */
enum store_rc	 store_user_first_ws(struct db *, uint64_t user,
		    struct workspace *);

/*
 * Webhook routing (doc/architecture.md, The webhook path): Meta's
 * phone_number_id and WABA id → the workspace. The routes are what the
 * connection rows say:
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
 * store_route_replace makes the workspace's routes exactly granted
 * (comma-separated, may be NULL), chosen (may be NULL) and phones
 * (comma-separated, may be NULL), in one transaction: its other routes
 * go. All NULL clears them (disconnect). STORE_DUP, with nothing
 * changed, when one of phones routes to another workspace.
 */
enum store_rc	 store_route_replace(struct db *, uint64_t workspace,
		    const char *granted, const char *chosen,
		    const char *phones);
enum store_rc	 store_route_find(struct db *, const char *kind,
		    const char *external_id, uint64_t *workspace);

#endif
