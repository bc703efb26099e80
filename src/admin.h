/*
 * admin: what the commands of waba-connect-admin share. admin.c holds
 * main, the command table and these helpers; each admin_*.c holds one
 * family of commands (admin_workspace.c: migrate, workspace, user;
 * admin_keys.c: keys, token; admin_status.c: status; admin_prune.c:
 * prune; admin_apikeys.c: api-key; admin_monitor.c: monitor, health;
 * admin_doctor.c: doctor). Every helper that reports a failure prints
 * one line on stderr itself, so a command only returns what the helper
 * returned. Only the admin tool includes this.
 */
#ifndef WABA_ADMIN_H
#define WABA_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "store/sql.h"
#include "store/workspaces.h"

#define PROG     "waba-connect-admin"
#define EX_FAIL  1
#define EX_USAGE 2
/* --workspace options one api-key add takes; more is a usage error. */
#define ADMIN_MAX_WORKSPACES 64

struct config;
struct db;
struct vault;

struct ctx {
	struct config *cfg;
	struct db     *db;
	const char    *config_path; /* --config or $WABA_CONNECT_CONFIG */
	int            json;
	int            once; /* monitor --once */
	const char    *catalog_id;
	const char    *db_host, *db_port, *db_socket; /* OPT_SERVER */
	const char    *workspace;                     /* OPT_WORKSPACE */
	/* OPT_APIKEY: --scopes, and each --workspace in order. */
	const char *scopes;
	const char *workspaces[ADMIN_MAX_WORKSPACES];
	int         nworkspaces;
	int         argc; /* operands, options taken out */
	char      **argv;
};

/* State carried through store_ws_each() by the walkers below. */
struct walk {
	struct ctx       *c;
	struct vault     *v;
	uint32_t          ver;
	uint32_t          lo, hi; /* key versions in use (keys rotate) */
	int               failed, tokens, n;
	enum store_rc     rc;
	struct workspace *list;
	struct workspace  hit;
	json_object      *arr;
};

/* "PROG: message" on stderr; returns EX_FAIL. */
int admin_fail(const char *, ...) __attribute__((format(printf, 1, 2)));
/* why, then the usage of the command group; returns EX_USAGE. */
int admin_misuse(const char *group, const char *why);
/* A store failure for people; returns EX_FAIL. */
int admin_store_fail(enum store_rc, const char *what);
/*
 * 0 when the database answers and, with schema, the control database is
 * migrated; -1 after saying why.
 */
int admin_need_db(struct ctx *, int schema);
/* 0 and *ws, or the exit status after saying why. */
int admin_find_workspace(struct ctx *, const char *slug, struct workspace *);
/* Code points of valid UTF-8. */
size_t admin_utf8_chars(const char *, size_t);
/*
 * A secret from the first line of standard input into *out, max + 1
 * bytes of sodium_malloc'd memory that the caller wipes and frees with
 * admin_secret_free(*out, max + 1), also after -1. Returns its length,
 * or -1 after saying why.
 */
long admin_read_secret(const char *what, size_t min, size_t max, char **out);
void admin_secret_free(char *, size_t cap);
/* A new JSON string, or NULL (JSON null) for NULL or "". */
json_object *admin_jstr(const char *);
/* o on one line of stdout; o stays the caller's. Returns 0 or EX_FAIL. */
int admin_print_json(json_object *o);

/* The commands: each returns the exit status. admin_workspace.c: */
int admin_migrate(struct ctx *);
int admin_workspace_add(struct ctx *);
int admin_workspace_list(struct ctx *);
int admin_user_add(struct ctx *);
/* admin_keys.c: */
int admin_keys_init(struct ctx *);
int admin_keys_add(struct ctx *);
int admin_keys_rotate(struct ctx *);
int admin_keys_rekey(struct ctx *);
int admin_keys_drop(struct ctx *);
int admin_keys_list(struct ctx *);
int admin_token_set(struct ctx *);
/* admin_status.c: */
int admin_status(struct ctx *);
/* admin_prune.c: */
int admin_prune(struct ctx *);
/* admin_monitor.c: */
int admin_monitor(struct ctx *);
int admin_health(struct ctx *);
/* admin_doctor.c: */
int admin_doctor(struct ctx *);
/* admin_apikeys.c: */
int admin_apikey_add(struct ctx *);
int admin_apikey_list(struct ctx *);
int admin_apikey_revoke(struct ctx *);

#endif
