/*
 * workspaces: the control database's directory of workspaces. A row names
 * the database and the server that hold the workspace's data, so
 * workspaces can live on several MySQL servers.
 */
#ifndef WABA_WORKSPACES_H
#define WABA_WORKSPACES_H

#include <stdint.h>

#include "../db.h"
#include "sql.h"

struct workspace {
	uint64_t         id;
	char             slug[64];
	char             name[201];
	char             db_name[65]; /* [a-z0-9_] only: safe to quote */
	struct db_server srv;         /* empty: the control server */
};

enum store_rc store_ws_by_slug(struct db *, const char *slug,
    struct workspace *);
enum store_rc store_ws_by_id(struct db *, uint64_t, struct workspace *);
/*
 * Adds a workspace whose database lives on srv (NULL, or empty host and
 * socket: the control DB's server), named from its id; STORE_DUP when
 * slug exists.
 */
enum store_rc store_ws_add(struct db *, const char *slug, const char *name,
    const struct db_server *srv, struct workspace *);
/* Calls fn for every workspace, by id; stops at the first non-zero. */
enum store_rc store_ws_each(struct db *,
    int (*fn)(const struct workspace *, void *), void *);

/*
 * For the store's modules that select workspaces joined with their own
 * tables (users.c, sessions.c): the columns, in the order store_ws_from_row reads
 * them, and the row as a workspace. STORE_ERR when its database name is
 * not one we generate (it is spliced into SQL).
 */
#define STORE_WS_COLS \
	"id, slug, name, db_name, db_host, db_port, " \
	"db_socket"
enum store_rc store_ws_from_row(const struct sq *, struct workspace *);

#endif
