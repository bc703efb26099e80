/*
 * app: what one worker holds for its whole life (config, compiled
 * templates, database connections), and the per-request context handed
 * to every handler.
 */
#ifndef WABA_APP_H
#define WABA_APP_H

#include <stddef.h>
#include <stdint.h>

#include "store/sessions.h"
#include "store/tenants.h"

struct config;
struct tmpl_set;
struct db;
struct vault;
struct graph;
struct req;
struct resp;
struct json_object;
struct FCGX_Request;

struct app {
	struct config	*cfg;	/* owned: app_free() frees it */
	struct tmpl_set	*tmpl;
	struct db	*db;
	struct vault	*vault;	/* key ring, opened at start-up */
	struct graph	*graph;	/* Meta Graph client: one curl handle */
	char		 mount[256];	/* path of server.base_url, "" for / */
};

/* One request's world. Handlers return 0 when resp is ready, -1 on a bug. */
struct ctx {
	struct app	*app;
	struct req	*req;
	struct resp	*resp;
	/* Filled by the dispatcher for routes that need them. */
	int		 has_sess;
	struct session_row sess;
	unsigned char	 sess_hash[SESSION_HASH_BYTES];
	int		 has_ws;
	struct workspace ws;
};

/*
 * Reads the config at config_path and everything it points at that can
 * be broken on disk (templates, key ring), once. On error returns -1
 * with one line in err naming the file (a broken template names
 * dir/file:line: reason) and *a empty. On success a owns the config.
 */
int	 app_load(struct app *, const char *config_path, char *err,
	    size_t errlen);
/*
 * Opens the per-process parts (Graph client, database handle) of a
 * loaded app; call it in the process that serves, after fork.
 */
int	 app_start(struct app *, char *err, size_t errlen);
/* Frees everything app_load and app_start made, the config too. */
void	 app_free(struct app *);
/*
 * The key ring to encrypt with: reread first when the file changed on
 * disk (vault_refresh), so a token stored after `keys rotate` uses the
 * new key. A ring that no longer loads is logged and the loaded one
 * kept: its keys still decrypt and encrypt what they did.
 */
struct vault *app_vault(struct app *);
/* Answers one FastCGI request, start to finish, and logs it. */
void	 app_handle(struct app *, struct FCGX_Request *);

#endif
