/*
 * apikeys: the internal API's keys in the control database (tables
 * api_keys, api_key_workspaces; doc/contract.md, Database layout). Only
 * hashes are stored and compared here; making and hashing a key is
 * apikey.c's.
 */
#ifndef WABA_STORE_APIKEYS_H
#define WABA_STORE_APIKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "../apikey.h"
#include "sql.h"
#include "workspaces.h"

/* One key as list shows it: never the key, never its hash. */
struct apikey_row {
	uint64_t id;
	char     name[APIKEY_NAME_MAX + 1];
	char     shown[APIKEY_SHOWN_LEN + 1];
	unsigned scopes; /* APIKEY_SCOPE_ bits */
	int      all_ws;
	char    *workspaces;       /* "a,b" (slugs, sorted); malloc'd */
	char     created_at[20];   /* "YYYY-MM-DD HH:MM:SS" UTC */
	char     last_used_at[20]; /* "" when never */
	char     revoked_at[20];   /* "" when not revoked */
};

/* What the API gate learns about a key and the workspace asked for. */
struct apikey_auth {
	uint64_t id;
	unsigned scopes;
	int      may_touch; /* *ws is the {slug} workspace, the key's */
	int      stale;     /* last_used_at is over a minute old */
};

/*
 * A new key, in one transaction with its workspaces (ids; none when
 * all_ws). STORE_DUP when the name is taken, by a revoked key too.
 */
enum store_rc store_apikey_add(struct db *, const char *name,
    const unsigned char hash[APIKEY_HASH_BYTES], const char *shown,
    unsigned scopes, int all_ws, const uint64_t *ws_ids, size_t nws);
/* Every key, by name; free with store_apikey_list_free. */
enum store_rc store_apikey_list(struct db *, struct apikey_row **, size_t *n);
void          store_apikey_list_free(struct apikey_row *, size_t n);
/*
 * Revokes the key named name: STORE_OK, or STORE_NOTFOUND when there is
 * none; *already is set when it had been revoked before (nothing done).
 */
enum store_rc store_apikey_revoke(struct db *, const char *name, int *already);
/*
 * The unrevoked key whose hash is hash, and, when it may touch the
 * workspace slug (NULL: none asked for), that workspace in *ws
 * (a->may_touch set; an unknown slug is simply not one it may touch).
 * STORE_NOTFOUND for an unknown or revoked key. The stored hash is
 * compared with hash in constant time once the index found the row.
 */
enum store_rc store_apikey_auth(struct db *,
    const unsigned char hash[APIKEY_HASH_BYTES], const char *slug,
    struct apikey_auth *, struct workspace                  *ws);
/*
 * store_apikey_auth for a Meta call's route, with store_conn_get_box's
 * read of the workspace's connection in the same statement: one round
 * trip where the gate and the handler made two. Only for a workspace
 * whose database is on the control server, as *known says it was (a
 * row an earlier store_apikey_auth read: the statement names its
 * database), and only for a key that read let touch it: grants never
 * change, so it is not read again. STORE_OK only when the key is
 * unrevoked and the workspace is still that row (slug, id, database and
 * server alike): *ws, *r and *b are then filled (vault_box_free b). Any
 * other outcome, a revoked key as an unknown one, is STORE_NOTFOUND (or
 * an error), and the caller asks store_apikey_auth, whose answer says
 * which refusal it is.
 */
struct conn_row;
struct vault_box;
enum store_rc store_apikey_auth_conn(struct db *,
    const unsigned char hash[APIKEY_HASH_BYTES], const struct workspace *known,
    struct apikey_auth *, struct workspace *ws, struct conn_row *r,
    struct vault_box *b);
/*
 * last_used_at = now, unless another worker did so within the minute
 * (the gate calls it only when stale: at most one write a minute a key).
 */
enum store_rc store_apikey_touch(struct db *, uint64_t id);

#endif
