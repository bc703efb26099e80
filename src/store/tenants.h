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

enum store_rc	 tenants_workspace_by_slug(struct db *, const char *slug,
		    struct workspace *);
enum store_rc	 tenants_workspace_by_id(struct db *, uint64_t,
		    struct workspace *);
/* Creates the row (and names its database); STORE_DUP when slug exists. */
/*
 * Adds a workspace whose database lives on srv (NULL, or empty host and
 * socket: the control DB's server), named from its id.
 */
enum store_rc	 tenants_workspace_add(struct db *, const char *slug,
		    const char *name, const struct db_server *srv,
		    struct workspace *);
/* Calls fn for every workspace, by id; stops at the first non-zero. */
enum store_rc	 tenants_workspace_each(struct db *,
		    int (*fn)(const struct workspace *, void *), void *);
/* The user with that email and the stored password hash (caller's buffer). */
enum store_rc	 tenants_user_by_email(struct db *, const char *email,
		    struct user *, char *hash, size_t hashlen);
enum store_rc	 tenants_user_add(struct db *, const char *email,
		    const char *hash, uint64_t *id);
enum store_rc	 tenants_member_add(struct db *, uint64_t user,
		    uint64_t workspace);
/* STORE_OK when user belongs to workspace, STORE_NOTFOUND when not. */
enum store_rc	 tenants_is_member(struct db *, uint64_t user,
		    uint64_t workspace);
/* The user's first workspace (where sign-in lands). */
enum store_rc	 tenants_first_workspace(struct db *, uint64_t user,
		    struct workspace *);

/*
 * Webhook routing (DESIGN §7): Meta's phone_number_id and WABA id → the
 * workspace. tenants_routes_replace makes the workspace's routes
 * waba_ids (comma-separated, may be NULL) plus phone_id (may be NULL), in
 * one transaction: its other routes go. A number routed to another
 * workspace moves to this one (it sends from here now); a WABA does only
 * with take_wabas (the merchant chose it), so a token that merely grants
 * a WABA another workspace sends from does not take its account_update
 * webhooks away. Both NULL clears them (disconnect).
 */
enum store_rc	 tenants_routes_replace(struct db *, uint64_t workspace,
		    const char *waba_ids, int take_wabas,
		    const char *phone_id);
enum store_rc	 tenants_route_find(struct db *, const char *kind,
		    const char *external_id, uint64_t *workspace);

#endif
