/*
 * app: what one worker holds for its whole life (config, compiled
 * templates, database connections), and the per-request context handed
 * to every handler.
 */
#ifndef WABA_APP_H
#define WABA_APP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"
#include "store/connection.h"
#include "store/sessions.h"
#include "store/workspaces.h"
#include "vault.h"

struct config;
struct tmpl_set;
struct db;
struct vault;
struct graph;
struct req;
struct resp;
struct json_object;
struct FCGX_Request;
struct send_tally;

struct app {
	struct config   *cfg; /* owned: app_free() frees it */
	struct tmpl_set *tmpl;
	struct db       *db;
	struct vault    *vault;      /* key ring, opened at start-up */
	struct graph    *graph;      /* Meta Graph client: one curl handle */
	char             mount[256]; /* path of server.base_url, "" for / */
	/* scheme://host[:port] of [meta] sdk_url: the origin the popup's
	   messages may come from besides Meta's own (embedded_signup.js). */
	char sdk_origin[256];
	/* The worker's send health not yet written (store/sends.h). */
	struct send_tally *sends;
	/*
	 * Workspaces (on the control server) the API gate has let a key
	 * touch, by slug: what names the database in the gate's one
	 * statement for a Meta call (apigate_check). An entry that no
	 * longer matches its row is dropped, and the slug is asked for
	 * again. With them, which key (by its hash) was let touch which:
	 * a key's grants are made with the key and never change
	 * (store_apikey_add is their only writer; a revoke ends the key
	 * itself), so a grant seen stays true.
	 */
	struct workspace *gate_ws; /* APP_GATE_WS of them, calloc'd */
	unsigned          gate_next;
	struct app_grant {
		unsigned char hash[32]; /* APIKEY_HASH_BYTES */
		uint64_t      ws_id;
	} * gate_grants; /* APP_GATE_GRANTS of them, calloc'd */
	unsigned gate_grant_next;
	/*
	 * What the gate's one statement read for a key and a workspace
	 * (the key's scopes, the workspace row, the connection and its
	 * token's box), reused for at most [api] gate_lease_ms from before
	 * the read, and only while the workspace's connection generation
	 * (gate_conn_gen, meta_gate.h) has not moved: a write of the pool
	 * to the connection is seen by every worker on its next request.
	 * A revoke waits out the lease before it says it is done
	 * (admin_apikeys.c), so a revoked key is refused on the next
	 * request of every worker of every host after that.
	 */
	struct app_gate_hit {
		unsigned char    hash[32]; /* APIKEY_HASH_BYTES */
		uint64_t         ws_id;    /* 0: empty */
		long long        until_ms; /* CLOCK_MONOTONIC */
		long long        gen;
		unsigned         scopes;
		uint64_t         key_id;
		struct workspace ws;
		struct conn_row  conn;
		struct vault_box box; /* ct owned */
	} * gate_hits;                /* APP_GATE_HITS of them, calloc'd */
	unsigned gate_hit_next;
};
#define APP_GATE_WS     16
#define APP_GATE_GRANTS 64
#define APP_GATE_HITS   16

/*
 * How handlers, the gate and the helpers they call answer: one enum.
 *  - A handler always returns ANSWERED: c->resp is ready. On a bug of
 *    its own (out of memory, a template that does not render) it has
 *    itself written the 500 page, through view_internal().
 *  - The gate's checks and the helpers a handler calls (hm_token,
 *    phones_load...) return GO_ON (carry on, nothing was answered) or
 *    ANSWERED (c->resp holds the answer, e.g. a 503 page: stop, return
 *    ANSWERED in turn).
 *  - Page writers (view_page, view_error*, hm_back, hm_db_down,
 *    hm_graph_failed) always return ANSWERED, so `return view_error(...)`
 *    reads as what it does.
 * Parsers do not answer: they return an enum naming the failure
 * (enum in_err for declared fields, enum store_rc for the store), and
 * their caller decides the page. Plain predicates return 0/1.
 */
enum answer { GO_ON, ANSWERED };

/* One request's world, handed to every handler. */
struct ctx {
	struct app  *app;
	struct req  *req;
	struct resp *resp;
	/* Filled by the dispatcher for routes that need them. */
	int                has_sess;
	struct session_row sess;
	unsigned char      sess_hash[SESSION_HASH_BYTES];
	int                has_ws;
	struct workspace   ws;
	/*
	 * Set by the API gate on a ROUTE_CONN route when it read the
	 * connection with the key (store_apikey_auth_conn): api_ready_token
	 * takes these instead of reading them again. pre_box is freed
	 * after the handler whatever it did.
	 */
	int              has_pre;
	struct conn_row  pre_conn;
	struct vault_box pre_box;
	/* The nonce of the WABA token api_ready_token opened: a 190 marks
	   the connection only while that token is still the one stored. */
	int           has_used_nonce;
	unsigned char used_nonce[VAULT_NONCE_BYTES];
	/*
	 * The route's declared fields (struct route's in[]), checked: in[i]
	 * is field i. Handlers name the index by their route's enum in
	 * handlers.h.
	 */
	struct in_val       in[IN_MAX_FIELDS];
	struct json_object *json; /* the parsed JSON body, owned */
};

/*
 * The membership gate: c->ws becomes the workspace (by slug, or by id
 * when slug is NULL) only when the signed-in user is a member. Answers
 * 404 (which does not confirm the workspace exists) or 503 otherwise.
 * The dispatcher uses it for {slug} routes; the OAuth callback, whose
 * workspace comes from the state, goes through it too.
 */
enum answer app_member(struct ctx *, const char *slug, uint64_t id);

/*
 * Reads the config at config_path and everything it points at that can
 * be broken on disk (templates, key ring), once. On error returns -1
 * with one line in err naming the file (a broken template names
 * dir/file:line: reason) and *a empty. On success a owns the config.
 */
int app_load(struct app *, const char *config_path, char *err, size_t errlen);
/*
 * Sign-in's set-up, once per process tree, before workers fork: the
 * hash unknown emails are checked against (argon2id: 64 MiB for a tenth
 * of a second). Only for processes that serve pages; the sender never
 * checks a password. -1 with err: out of memory.
 */
int app_signin_init(char *err, size_t errlen);
/*
 * Opens the per-process parts (Graph client, database handle) of a
 * loaded app; call it in the process that serves, after fork.
 */
int app_start(struct app *, char *err, size_t errlen);
/* Frees everything app_load and app_start made, the config too. */
void app_free(struct app *);
/*
 * Between requests: writes the send tallies that are due (all: every
 * one). app_idle_ms says how long the worker may wait for a request
 * before one is due, -1 for as long as it likes.
 */
void app_idle(struct app *, int all);
long app_idle_ms(const struct app *);
/*
 * The key ring to encrypt with: reread first when the file changed on
 * disk (vault_refresh), so a token stored after `keys rotate` uses the
 * new key. A ring that no longer loads is logged and the loaded one
 * kept: its keys still decrypt and encrypt what they did.
 */
struct vault *app_vault(struct app *);
/*
 * Writes the route table to f, one "METHOD PATTERN" line per method of
 * each route (GET routes also answer HEAD: not listed). 0, or -1 when
 * writing failed.
 */
int app_routes_print(FILE *f);
/* Answers one FastCGI request, start to finish, and logs it. */
void app_handle(struct app *, struct FCGX_Request *);

#endif
