/*
 * priv: the privilege drop of priv.h. The order is slowcgi's: everything
 * that needs root is done first (socket, files), then the groups, the
 * gid and last the uid, since a process that gave up its uid can no
 * longer change its groups.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "priv.h"

int
priv_plan(const struct config *cfg, enum priv_plan *plan, char *err,
    size_t errlen)
{
	uid_t euid = geteuid();

	*plan = PRIV_KEEP;
	if (euid == 0 && cfg->user == NULL) {
		snprintf(err, errlen,
		    "started as root without [server] user: "
		    "refusing to serve as root; set [server] user to the "
		    "account to serve as");
		return -1;
	}
	if (euid == 0) {
		*plan = PRIV_DROP;
		return 0;
	}
	if (cfg->user != NULL && euid != cfg->user_uid) {
		snprintf(err, errlen,
		    "[server] user is \"%s\" (uid %lu), but "
		    "started as uid %lu: only root can become another user; "
		    "start as root or as %s, or remove [server] user",
		    cfg->user, (unsigned long)cfg->user_uid,
		    (unsigned long)euid, cfg->user);
		return -1;
	}
	return 0;
}

int
priv_socket(const char *listen_addr, const struct config *cfg, char *err,
    size_t errlen)
{
	const char *path;

	if (strncmp(listen_addr, "unix:", 5) != 0)
		return 0;
	path = listen_addr + 5;
	/*
	 * Connecting takes write permission on the socket. Ours from
	 * libfcgi is root's, mode 0777 & ~umask: only root could connect.
	 * 0660 lets the pool's own user and group in and nobody else (a
	 * local process that can write FastCGI to us can claim any
	 * REMOTE_ADDR and header).
	 */
	if (chown(path, cfg->user_uid, cfg->user_gid) == -1 ||
	    chmod(path, 0660) == -1) {
		snprintf(err, errlen,
		    "%s: cannot hand the socket to user %s: "
		    "%s",
		    path, cfg->user, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The files a running pool reads again, tried as the user (the effective
 * ids are the user's here). The key ring is re-read by the workers when
 * it is rotated (app_vault): unreadable, it is an error. The config file,
 * its secret files and the templates are read again only on SIGHUP: a
 * warning.
 */
static int
priv_check_files(const char *config_path, const struct config *cfg, char *err,
    size_t errlen)
{
	struct config *again;
	char           why[512];
	int            fd;

	if ((fd = open(cfg->key_ring_file, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen,
		    "%s: %s as user %s: the workers re-read "
		    "the key ring when keys are rotated; make it owned by %s, "
		    "mode 0600",
		    cfg->key_ring_file, strerror(errno), cfg->user, cfg->user);
		return -1;
	}
	close(fd);
	/* config_load reads every *_file secret and checks ca_file too. */
	if ((again = config_load(config_path, why, sizeof(why))) == NULL)
		log_warn("as user %s: %s; SIGHUP will refuse to reload until "
		         "it is readable",
		    cfg->user, why);
	config_free(again);
	if (faccessat(AT_FDCWD, cfg->template_dir, R_OK | X_OK, AT_EACCESS) ==
	    -1)
		log_warn("as user %s: %s: %s; SIGHUP will refuse to reload "
		         "until it is readable",
		    cfg->user, cfg->template_dir, strerror(errno));
	return 0;
}

int
priv_drop(const char *config_path, const struct config *cfg, char *err,
    size_t errlen)
{
	uid_t       ru, eu, su;
	gid_t       rg, eg, sg;
	const char *what;
	int         rc;

	/* initgroups: the user's own supplementary groups, not root's. */
	if (initgroups(cfg->user, cfg->user_gid) == -1) {
		what = "initgroups";
		goto fail;
	}
	/*
	 * First as the user only for a while (the saved ids stay root's):
	 * a refusal then leaves the caller root, to clean up its socket.
	 */
	if (setegid(cfg->user_gid) == -1) {
		what = "setegid";
		goto fail;
	}
	if (seteuid(cfg->user_uid) == -1) {
		what = "seteuid";
		goto fail;
	}
	rc = priv_check_files(config_path, cfg, err, errlen);
	if (seteuid(0) == -1 || setegid(0) == -1) {
		what = "back to root for the drop";
		goto fail;
	}
	if (rc == -1)
		return -1;
	if (setresgid(cfg->user_gid, cfg->user_gid, cfg->user_gid) == -1) {
		what = "setresgid";
		goto fail;
	}
	if (setresuid(cfg->user_uid, cfg->user_uid, cfg->user_uid) == -1) {
		what = "setresuid";
		goto fail;
	}
	/* The drop must be for good: neither root nor root's group back. */
	if (setuid(0) != -1 || seteuid(0) != -1 ||
	    (cfg->user_gid != 0 && setgid(0) != -1)) {
		snprintf(err, errlen,
		    "privilege drop to user %s: root could "
		    "be regained",
		    cfg->user);
		return -1;
	}
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    ru != cfg->user_uid || eu != ru || su != ru ||
	    rg != cfg->user_gid || eg != rg || sg != rg) {
		snprintf(err, errlen,
		    "privilege drop to user %s: ids not as "
		    "set",
		    cfg->user);
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "privilege drop to user %s: %s: %s", cfg->user,
	    what, strerror(errno));
	return -1;
}
