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
int pool_worker(const char *config_path, struct app *app, int fd,
    int reload_on_hup);
/*
 * Runs the supervisor until SIGTERM/SIGINT; returns the exit status.
 * Takes ownership of app (loaded, not started); workers are forked with
 * it and SIGHUP replaces it only with a state that loaded completely.
 */
int pool_supervise(const char *config_path, struct app *app, int fd,
    int nworkers, const char *listen_addr);
/*
 * The supervisor's crash-loop guard: the times (ms, monotonic) of the
 * latest crashes, oldest first, so that only crashes within a sliding
 * window count. POOL_CRASH_RING holds more than the largest limit
 * (3 x 256 workers).
 */
#define POOL_CRASH_RING      1024
#define POOL_CRASH_WINDOW_MS 1000
struct pool_crashes {
	long long    at[POOL_CRASH_RING];
	unsigned int head, n;
};
void pool_crash_add(struct pool_crashes *, long long now_ms);
/* Forgets crashes older than window_ms; returns how many remain. */
unsigned int pool_crash_recent(struct pool_crashes *, long long now_ms,
    long long window_ms);
/* Opens "HOST:PORT" or "unix:PATH" for FastCGI; -1 with err on failure. */
int pool_listen(const char *addr, char *err, size_t errlen);

/*
 * The outbox's sender in this process (waba-connect --sender, or the
 * supervisor's child with [sender] enabled): SIGTERM and SIGINT stop it
 * cleanly. Frees app. Returns the exit status.
 */
int pool_sender(struct app *app);

#endif
