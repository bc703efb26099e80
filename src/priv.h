/*
 * priv: the privilege drop (doc/architecture.md, Processes). Started as
 * root, the pool opens its socket and reads its files as root, then
 * becomes [server] user for good, as OpenBSD's slowcgi does; it never
 * serves a request as root.
 */
#ifndef WABA_PRIV_H
#define WABA_PRIV_H

#include <stddef.h>

struct config;

enum priv_plan {
	PRIV_KEEP = 0, /* not root: run as we are */
	PRIV_DROP      /* root with [server] user: priv_drop() before serving */
};

/*
 * What start-up must do about privileges, from the effective uid and
 * [server] user. -1 with err (one line) when the pool must not start:
 * root without [server] user, or not root and [server] user someone else
 * (only root can become another user, and serving as the wrong one would
 * be a silent surprise).
 */
int priv_plan(const struct config *cfg, enum priv_plan *plan, char *err,
    size_t errlen);
/*
 * Hands a unix:PATH listening socket to [server] user and its group,
 * mode 0660, so the web server connects when it runs as that user or is
 * in that group. Other addresses are left alone. -1 with err.
 */
int priv_socket(const char *listen_addr, const struct config *cfg, char *err,
    size_t errlen);
/*
 * Becomes [server] user: its groups (initgroups), then its gid, then its
 * uid, real, effective and saved, and checks that root cannot be had
 * back. First, as the user, it checks that what a running pool reads
 * again stays readable: the key ring (re-read by the workers after a
 * rotation) must be, or the drop is refused; the config file, its
 * secret files and the templates (read again on SIGHUP) are only warned
 * about. -1 with err: the caller must exit, not serve; after a refused
 * key ring it is still root.
 */
int priv_drop(const char *config_path, const struct config *cfg, char *err,
    size_t errlen);

#endif
