/*
 * pool: the processes. A worker accepts FastCGI requests on a listening
 * socket it shares with its siblings; the supervisor (standalone mode)
 * pre-forks workers, replaces dead ones, recycles them after
 * max_requests, reloads on SIGHUP and drains on SIGTERM.
 */
#ifndef WABA_POOL_H
#define WABA_POOL_H

#include <stddef.h>

struct config;

/*
 * Serves requests on fd until SIGTERM or max_requests. Takes ownership
 * of cfg. With reload_on_hup (spawned mode, no supervisor) a SIGHUP
 * re-reads config_path and the templates between two requests. Returns
 * the process exit status.
 */
int	 pool_worker(const char *config_path, struct config *cfg, int fd,
	    int reload_on_hup);
/* Runs the supervisor until SIGTERM/SIGINT; returns the exit status. */
int	 pool_supervise(const char *config_path, struct config *cfg, int fd,
	    int nworkers, const char *listen_addr);
/* Opens "HOST:PORT" or "unix:PATH" for FastCGI; -1 with err on failure. */
int	 pool_listen(const char *addr, char *err, size_t errlen);

#endif
