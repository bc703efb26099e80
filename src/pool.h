/*
 * pool: the processes. A worker accepts FastCGI requests on a listening
 * socket it shares with its siblings; the supervisor (standalone mode)
 * pre-forks workers, replaces dead ones, recycles them after
 * max_requests, reloads on SIGHUP and drains on SIGTERM.
 */
#ifndef WABA_POOL_H
#define WABA_POOL_H

#include <stddef.h>

struct app;

/*
 * Serves requests on fd until SIGTERM or max_requests, with app as
 * app_load() left it (app_start() is done here). Takes ownership of
 * app. With reload_on_hup (spawned mode, no supervisor) a SIGHUP
 * re-reads config_path and what it names between two requests, and
 * keeps the running state when any of it is broken. Returns the
 * process exit status.
 */
int	 pool_worker(const char *config_path, struct app *app, int fd,
	    int reload_on_hup);
/*
 * Runs the supervisor until SIGTERM/SIGINT; returns the exit status.
 * Takes ownership of app (loaded, not started); workers are forked with
 * it and SIGHUP replaces it only with a state that loaded completely.
 */
int	 pool_supervise(const char *config_path, struct app *app, int fd,
	    int nworkers, const char *listen_addr);
/* Opens "HOST:PORT" or "unix:PATH" for FastCGI; -1 with err on failure. */
int	 pool_listen(const char *addr, char *err, size_t errlen);

#endif
