/*
 * INI parsing is table driven: each known [section] key has a type and an
 * offset into struct config, so an unknown key, a bad number or a missing
 * required value all produce the same kind of one-line message.
 */
#include <sys/stat.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "buf.h"
#include "config.h"
#include "hostlist.h"
#include "metrics.h"

enum ctype { C_STR, C_SECRET, C_INT, C_LONG, C_SIZE, C_LEVEL, C_BOOL };

struct ckey {
	const char *section;
	const char *key;
	enum ctype  type;
	size_t      off;
	long        min, max; /* numbers only */
};

#define O(f) offsetof(struct config, f)
static const struct ckey ckeys[] = {
	{ "server", "base_url", C_STR, O(base_url), 0, 0 },
	{ "server", "workers", C_INT, O(workers), 1, 256 },
	{ "server", "max_requests", C_LONG, O(max_requests), 0, LONG_MAX },
	{ "server", "listen", C_STR, O(listen), 0, 0 },
	{ "server", "template_dir", C_STR, O(template_dir), 0, 0 },
	{ "server", "log_level", C_LEVEL, O(log_level), 0, 0 },
	{ "server", "max_body", C_SIZE, O(max_body), 1024, 64L << 20 },
	{ "server", "drain_seconds", C_INT, O(drain_seconds), 1, 3600 },
	{ "server", "session_idle_minutes", C_INT, O(session_idle_minutes), 1,
	    60 * 24 * 30 },
	{ "server", "session_max_hours", C_INT, O(session_max_hours), 1,
	    24 * 90 },
	{ "server", "user", C_STR, O(user), 0, 0 },
	{ "database", "host", C_STR, O(db_host), 0, 0 },
	{ "database", "port", C_INT, O(db_port), 1, 65535 },
	{ "database", "socket", C_STR, O(db_socket), 0, 0 },
	{ "database", "user", C_STR, O(db_user), 0, 0 },
	{ "database", "password", C_SECRET, O(db_password), 0, 0 },
	{ "database", "password_file", C_SECRET, O(db_password), 1, 0 },
	{ "database", "control_db", C_STR, O(control_db), 0, 0 },
	{ "database", "workspace_db_prefix", C_STR, O(workspace_db_prefix), 0,
	    0 },
	{ "crypto", "key_ring_file", C_STR, O(key_ring_file), 0, 0 },
	{ "meta", "app_id", C_STR, O(app_id), 0, 0 },
	{ "meta", "app_secret", C_SECRET, O(app_secret), 0, 0 },
	{ "meta", "app_secret_file", C_SECRET, O(app_secret), 1, 0 },
	{ "meta", "config_id", C_STR, O(config_id), 0, 0 },
	{ "meta", "graph_version", C_STR, O(graph_version), 0, 0 },
	{ "meta", "graph_base_url", C_STR, O(graph_base_url), 0, 0 },
	{ "meta", "dialog_base_url", C_STR, O(dialog_base_url), 0, 0 },
	{ "meta", "sdk_url", C_STR, O(sdk_url), 0, 0 },
	{ "meta", "webhook_verify_token", C_SECRET, O(webhook_verify_token), 0,
	    0 },
	{ "meta", "webhook_verify_token_file", C_SECRET,
	    O(webhook_verify_token), 1, 0 },
	{ "meta", "ca_file", C_STR, O(ca_file), 0, 0 },
	{ "meta", "connect_timeout_ms", C_LONG, O(connect_timeout_ms), 100,
	    60000 },
	{ "meta", "timeout_ms", C_LONG, O(timeout_ms), 100, 300000 },
	{ "meta", "max_retries", C_INT, O(max_retries), 0, 10 },
	{ "meta", "request_budget_ms", C_LONG, O(request_budget_ms), 1000,
	    600000 },
	{ "meta", "max_concurrent_calls", C_INT, O(max_concurrent_calls), 1,
	    256 },
	{ "meta", "breaker_failures", C_INT, O(breaker_failures), 1, 1000 },
	{ "meta", "breaker_seconds", C_INT, O(breaker_seconds), 1, 3600 },
	{ "meta", "webhook_max_body", C_SIZE, O(webhook_max_body), 1024,
	    64L << 20 },
	{ "meta", "webhook_silence_minutes", C_INT, O(webhook_silence_minutes),
	    1, 60 * 24 * 30 },
	/*
	 * Stored events are the dedupe table: pruned sooner than Meta's
	 * redelivery window (up to 7 days), a late retry would be stored
	 * as new.
	 */
	{ "webhooks", "retention_days", C_INT, O(webhook_retention_days), 7,
	    3650 },
	{ "api", "max_waiting", C_INT, O(api_max_waiting), 1, 256 },
	/*
	 * How long a worker reuses the key gate's read (app.h,
	 * app_gate_hit); also what `api-key revoke` waits. A minute at
	 * most: that long a revoked key could still be let in.
	 */
	{ "api", "gate_lease_ms", C_INT, O(api_gate_lease_ms), 0, 60000 },
	/*
	 * The internal API's raw uploads (POST /media, /uploads): Meta's
	 * largest file is a 100 MB document. One such body is held in a
	 * worker's memory while it is sent on, so no more than 1 GiB.
	 */
	{ "api", "max_upload_bytes", C_SIZE, O(api_max_upload_bytes), 1024,
	    1L << 30 },
	/*
	 * Push of the events feed to the SaaS (doc/architecture.md, Push):
	 * where, and the HMAC key its X-Waba-Signature-256 is made with.
	 */
	{ "events", "push_url", C_STR, O(push_url), 0, 0 },
	{ "events", "push_secret", C_SECRET, O(push_secret), 0, 0 },
	{ "events", "push_secret_file", C_SECRET, O(push_secret), 1, 0 },
	/* The health monitor (doc/architecture.md, The health monitor). */
	{ "monitor", "enabled", C_BOOL, O(monitor_enabled), 0, 0 },
	{ "monitor", "interval_minutes", C_INT, O(monitor_interval_minutes), 1,
	    60 * 24 * 7 },
	{ "monitor", "expiry_warning_days", C_INT,
	    O(monitor_expiry_warning_days), 1, 365 },
	/* Operations (issue 15): cfg_ops checks both. */
	{ "metrics", "allow", C_STR, O(metrics_allow), 0, 0 },
	{ "server", "log_format", C_STR, O(log_format), 0, 0 },
	/* The sender (issue 13, doc/architecture.md, The sender). */
	{ "sender", "enabled", C_BOOL, O(sender_enabled), 0, 0 },
	{ "sender", "max_in_flight", C_INT, O(sender_max_in_flight), 1, 4096 },
	{ "sender", "per_number_mps", C_INT, O(sender_per_number_mps), 1,
	    1000 },
	{ "sender", "pair_interval_ms", C_INT, O(sender_pair_interval_ms), 0,
	    3600000 },
	{ "sender", "max_attempts", C_INT, O(sender_max_attempts), 1, 100 },
	{ "sender", "claim_timeout_s", C_INT, O(sender_claim_timeout_s), 1,
	    86400 },
};
#undef O

static char **
cfg_str(struct config *c, const struct ckey *k)
{
	return (char **)((char *)c + k->off);
}

static void cfg_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cfg_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static char *
cfg_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void
cfg_free_secret(char **p)
{
	if (*p) {
		sodium_memzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/*
 * A whole file in memory sized once from its length (at most max bytes),
 * read with read(2): no stdio buffer and no growing buffer is left in
 * freed memory holding a password. NUL-terminated; *len its length.
 * The caller wipes and frees it.
 */
static char *
cfg_slurp(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char       *text = NULL;
	ssize_t     n = 0;
	size_t      got = 0, size;
	int         fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cfg_seterr(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		cfg_seterr(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size > max) {
		cfg_seterr(err, errlen,
		    "%s: not a regular file of at most "
		    "%zu bytes",
		    path, max);
		goto fail;
	}
	/* One byte more than its size: a file growing meanwhile is seen. */
	size = (size_t)st.st_size;
	if ((text = malloc(size + 2)) == NULL) {
		cfg_seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (got < size + 1 &&
	    ((n = read(fd, text + got, size + 1 - got)) > 0 ||
	        (n == -1 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	if (n == -1) {
		cfg_seterr(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (got > size) {
		cfg_seterr(err, errlen, "%s: changed while being read", path);
		goto fail;
	}
	close(fd);
	text[got] = '\0';
	*len = got;
	return text;
fail:
	if (text != NULL) {
		sodium_memzero(text, size + 2);
		free(text);
	}
	close(fd);
	return NULL;
}

/*
 * Reads a secret from a file: the first line, without its newline. The
 * file's contents are wiped from our buffer after copying.
 */
static int
cfg_read_secret_file(const char *path, char **out, char *err, size_t errlen)
{
	char  *text, *nl;
	size_t len, line, i;

	if ((text = cfg_slurp(path, 65536, &len, err, errlen)) == NULL)
		return -1;
	/*
	 * The first line, without its LF or a CRLF file's CR. A control
	 * character left in it (a NUL would cut the secret short, a tab or
	 * CR inside is a paste gone wrong) is refused rather than taken as
	 * part of a secret that then fails at Meta for no visible reason.
	 */
	nl = memchr(text, '\n', len);
	line = nl ? (size_t)(nl - text) : len;
	if (line > 0 && text[line - 1] == '\r')
		line--;
	text[line] = '\0';
	for (i = 0; i < line; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			break;
	if (line == 0 || i < line) {
		sodium_memzero(text, len);
		free(text);
		cfg_seterr(err, errlen,
		    line == 0 ? "%s is empty"
		              : "%s: its first line holds a control character",
		    path);
		return -1;
	}
	*out = strdup(text);
	sodium_memzero(text, len);
	free(text);
	return *out ? 0 : -1;
}

static int
cfg_number(const char *v, long min, long max, long *out)
{
	char *end;
	long  n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* Where a `*_file` secret came from (config.h: for doctor). */
static int
cfg_note_file(struct config *c, const struct ckey *k, const char *path)
{
	struct config_secret_file *f;

	/* Each key is given once (cfg_set): the table cannot fill. */
	if (c->nsecret_files == CONFIG_SECRET_FILES)
		abort();
	f = &c->secret_files[c->nsecret_files];
	if ((f->path = strdup(path)) == NULL)
		return -1;
	f->section = k->section;
	f->key = k->key;
	c->nsecret_files++;
	return 0;
}

static int
cfg_set(struct config *c, const struct ckey *k, const char *v,
    const char *where, char *err, size_t errlen)
{
	long   n;
	char **sp;

	switch (k->type) {
	case C_STR:
	case C_SECRET:
		sp = cfg_str(c, k);
		if (*sp != NULL) {
			cfg_seterr(err, errlen,
			    "%s: [%s] %s: given twice "
			    "(or together with its _file form)",
			    where, k->section, k->key);
			return -1;
		}
		if (*v == '\0') {
			cfg_seterr(err, errlen, "%s: [%s] %s: empty value",
			    where, k->section, k->key);
			return -1;
		}
		if (k->type == C_SECRET && k->min == 1) {
			if (cfg_read_secret_file(v, sp, err, errlen) == -1) {
				/* err names the file; add the key. */
				char tmp[512];
				snprintf(tmp, sizeof(tmp), "%s", err);
				cfg_seterr(err, errlen, "%s: [%s] %s: %s",
				    where, k->section, k->key, tmp);
				return -1;
			}
			return cfg_note_file(c, k, v);
		}
		return (*sp = strdup(v)) ? 0 : -1;
	case C_INT:
	case C_LONG:
	case C_SIZE:
		if (cfg_number(v, k->min, k->max, &n) == -1) {
			cfg_seterr(err, errlen,
			    "%s: [%s] %s: \"%s\" is not a "
			    "whole number from %ld to %ld",
			    where, k->section, k->key, v, k->min, k->max);
			return -1;
		}
		if (k->type == C_INT)
			*(int *)((char *)c + k->off) = (int)n;
		else if (k->type == C_LONG)
			*(long *)((char *)c + k->off) = n;
		else
			*(size_t *)((char *)c + k->off) = (size_t)n;
		return 0;
	case C_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
			*(int *)((char *)c + k->off) = strcmp(v, "true") == 0;
			return 0;
		}
		cfg_seterr(err, errlen,
		    "%s: [%s] %s: \"%s\" is not true or false", where,
		    k->section, k->key, v);
		return -1;
	case C_LEVEL:
		if (strcmp(v, "error") == 0)
			c->log_level = LOG_LVL_ERROR;
		else if (strcmp(v, "warn") == 0)
			c->log_level = LOG_LVL_WARN;
		else if (strcmp(v, "info") == 0)
			c->log_level = LOG_LVL_INFO;
		else if (strcmp(v, "debug") == 0)
			c->log_level = LOG_LVL_DEBUG;
		else {
			cfg_seterr(err, errlen,
			    "%s: [%s] %s: \"%s\" is not "
			    "one of error, warn, info, debug",
			    where, k->section, k->key, v);
			return -1;
		}
		return 0;
	}
	return -1;
}

static int
cfg_default(char **p, const char *v)
{
	if (*p == NULL && (*p = strdup(v)) == NULL)
		return -1;
	return 0;
}

int
config_url_is_loopback(const char *url)
{
	CURLU *u;
	char  *host = NULL;
	int    rc = 0;

	if ((u = curl_url()) == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		struct in_addr a4;
		/* A literal address, not a name that merely starts with 127. */
		rc = strcmp(host, "localhost") == 0 ||
		    strcmp(host, "[::1]") == 0 ||
		    (inet_pton(AF_INET, host, &a4) == 1 &&
		        (ntohl(a4.s_addr) >> 24) == 127);
		curl_free(host);
	}
	curl_url_cleanup(u);
	return rc;
}

int
config_url_origin(const char *url, char *out, size_t outlen)
{
	CURLU *u;
	char  *scheme = NULL, *host = NULL, *port = NULL;
	int    rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	/* curl gives the port only when the URL names one; a named default
	   port is dropped, as a browser spells the origin. */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (port != NULL &&
	    ((strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0) ||
	        (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0))) {
		curl_free(port);
		port = NULL;
	}
	if ((size_t)snprintf(out, outlen, "%s://%s%s%s", scheme, host,
	        port ? ":" : "", port ? port : "") < outlen)
		rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/*
 * A base URL must be absolute http(s) with a host, and plain http only
 * where the traffic cannot leave the machine (doc/contract.md,
 * Configuration keys).
 */
static int
cfg_check_url(char *url, const char *section, const char *key,
    int http_loopback_only, int *is_https, char *err, size_t errlen)
{
	CURLU *u;
	char  *scheme = NULL, *host = NULL;
	size_t len;
	int    rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		cfg_seterr(err, errlen,
		    "[%s] %s: \"%s\" is not an absolute "
		    "URL",
		    section, key, url);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		cfg_seterr(err, errlen, "[%s] %s: scheme must be http or https",
		    section, key);
		goto out;
	}
	if (http_loopback_only && strcmp(scheme, "http") == 0 &&
	    !config_url_is_loopback(url)) {
		cfg_seterr(err, errlen,
		    "[%s] %s: http:// is only allowed for "
		    "loopback addresses; use https://",
		    section, key);
		goto out;
	}
	if (strchr(url, '?') || strchr(url, '#')) {
		cfg_seterr(err, errlen,
		    "[%s] %s: must not have a query or "
		    "fragment",
		    section, key);
		goto out;
	}
	if (is_https)
		*is_https = strcmp(scheme, "https") == 0;
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/*
 * Operations (issue 15): [metrics] allow (default loopback only) and
 * [server] log_format.
 */
static int
cfg_ops(struct config *c, const char *name, char *err, size_t errlen)
{
	char why[160];

	if (cfg_default(&c->metrics_allow, "127.0.0.0/8, ::1") == -1 ||
	    cfg_default(&c->log_format, "text") == -1)
		return -1;
	if (metrics_allow_check(c->metrics_allow, why, sizeof(why)) == -1) {
		cfg_seterr(err, errlen, "%s: [metrics] allow: %s", name, why);
		return -1;
	}
	if (strcmp(c->log_format, "json") != 0 &&
	    strcmp(c->log_format, "text") != 0) {
		cfg_seterr(err, errlen,
		    "%s: [server] log_format: \"%.32s\" is not text or json",
		    name, c->log_format);
		return -1;
	}
	c->log_json = strcmp(c->log_format, "json") == 0;
	return 0;
}

/*
 * [server] user is looked up once, here, so that a typo stops start-up
 * (and --check) with its name rather than at the privilege drop. Root
 * is refused: dropping to root would be no drop at all (priv.c).
 */
static int
cfg_user(struct config *c, const char *name, char *err, size_t errlen)
{
	struct passwd *pw;

	if (c->user == NULL)
		return 0;
	errno = 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		cfg_seterr(err, errlen, "%s: [server] user: %s \"%s\"", name,
		    errno != 0 ? strerror(errno) : "no such user", c->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		cfg_seterr(err, errlen,
		    "%s: [server] user: \"%s\" is root; "
		    "name the unprivileged user to serve as",
		    name, c->user);
		return -1;
	}
	c->user_uid = pw->pw_uid;
	c->user_gid = pw->pw_gid;
	return 0;
}

/* A section is one that some key of the table is in: no second list. */
static int
cfg_section_known(const char *section)
{
	size_t i;

	for (i = 0; i < sizeof(ckeys) / sizeof(ckeys[0]); i++)
		if (strcmp(ckeys[i].section, section) == 0)
			return 1;
	return 0;
}

static int
cfg_validate(struct config *c, const char *name, char *err, size_t errlen)
{
	static const struct {
		size_t      off;
		const char *what;
	} required[] = {
		{ offsetof(struct config, base_url), "[server] base_url" },
		{ offsetof(struct config, db_user), "[database] user" },
		{ offsetof(struct config, key_ring_file),
		    "[crypto] key_ring_file" },
		{ offsetof(struct config, app_id), "[meta] app_id" },
		{ offsetof(struct config, app_secret),
		    "[meta] app_secret (or app_secret_file)" },
		{ offsetof(struct config, webhook_verify_token),
		    "[meta] webhook_verify_token (or webhook_verify_token_file)" },
	};
	size_t         i;
	const char    *p;
	struct hl_host hosts[HL_MAX];
	char           why[128];

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (*(char **)((char *)c + required[i].off) == NULL) {
			cfg_seterr(err, errlen, "%s: %s is required", name,
			    required[i].what);
			return -1;
		}
	/*
	 * Long-polls of the events feed hold a worker each: a pool they
	 * could fill would answer nothing else. Unset, a quarter of it.
	 */
	if (c->api_max_waiting == 0)
		c->api_max_waiting = c->workers / 4 > 0 ? c->workers / 4 : 1;
	else if (c->workers > 1 && c->api_max_waiting >= c->workers) {
		cfg_seterr(err, errlen,
		    "%s: [api] max_waiting: %d must be below [server] "
		    "workers (%d), or long-polls could hold every worker",
		    name, c->api_max_waiting, c->workers);
		return -1;
	}
	for (p = c->app_id; *p; p++)
		if (!isdigit((unsigned char)*p)) {
			cfg_seterr(err, errlen,
			    "%s: [meta] app_id: must be "
			    "the numeric app id",
			    name);
			return -1;
		}
	if (c->graph_version != NULL) {
		p = c->graph_version;
		if (*p++ != 'v' || !isdigit((unsigned char)*p) ||
		    strspn(p, "0123456789.") != strlen(p)) {
			cfg_seterr(err, errlen,
			    "%s: [meta] graph_version: "
			    "\"%s\" is not like v25.0",
			    name, c->graph_version);
			return -1;
		}
	}
	if (c->db_host && c->db_socket) {
		cfg_seterr(err, errlen,
		    "%s: [database] host and socket: give "
		    "one, not both",
		    name);
		return -1;
	}
	/* Unsigned pushes would let anyone who can reach the receiver forge them. */
	if ((c->push_url != NULL) != (c->push_secret != NULL)) {
		cfg_seterr(err, errlen,
		    c->push_url
		        ? "%s: [events] push_url needs push_secret_file"
		        : "%s: [events] push_secret_file without push_url",
		    name);
		return -1;
	}
	if (c->db_host != NULL &&
	    hl_parse(c->db_host, 3306, hosts, HL_MAX, why, sizeof(why)) < 0) {
		cfg_seterr(err, errlen, "%s: [database] host: %s", name, why);
		return -1;
	}
	if (cfg_default(&c->graph_version, "v25.0") == -1 ||
	    cfg_default(&c->graph_base_url, "https://graph.facebook.com") ==
	        -1 ||
	    cfg_default(&c->dialog_base_url, "https://www.facebook.com") ==
	        -1 ||
	    cfg_default(&c->sdk_url,
	        "https://connect.facebook.net/en_US/sdk.js") == -1 ||
	    cfg_default(&c->control_db, "waba_control") == -1 ||
	    cfg_default(&c->workspace_db_prefix, "waba_ws_") == -1 ||
	    cfg_default(&c->listen, "127.0.0.1:9000") == -1 ||
	    cfg_default(&c->template_dir, TEMPLATE_DIR) == -1)
		return -1;
	if (c->db_host == NULL && c->db_socket == NULL &&
	    cfg_default(&c->db_host, "localhost") == -1)
		return -1;
	/* Database names are built from these: keep them identifier-safe. */
	if (strspn(c->control_db, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
	        strlen(c->control_db) ||
	    strlen(c->control_db) > 48) {
		cfg_seterr(err, errlen,
		    "%s: [database] control_db: use a-z, "
		    "0-9 and _ only (at most 48)",
		    name);
		return -1;
	}
	if (strspn(c->workspace_db_prefix,
	        "abcdefghijklmnopqrstuvwxyz0123456789_") !=
	        strlen(c->workspace_db_prefix) ||
	    strlen(c->workspace_db_prefix) > 32) {
		cfg_seterr(err, errlen,
		    "%s: [database] workspace_db_prefix: "
		    "use a-z, 0-9 and _ only (at most 32)",
		    name);
		return -1;
	}
	if (cfg_check_url(c->base_url, "server", "base_url", 0, &c->base_https,
	        err, errlen) == -1 ||
	    cfg_check_url(c->graph_base_url, "meta", "graph_base_url", 1, NULL,
	        err, errlen) == -1 ||
	    cfg_check_url(c->dialog_base_url, "meta", "dialog_base_url", 1,
	        NULL, err, errlen) == -1 ||
	    cfg_check_url(c->sdk_url, "meta", "sdk_url", 1, NULL, err,
	        errlen) == -1 ||
	    (c->push_url != NULL &&
	        cfg_check_url(c->push_url, "events", "push_url", 1, NULL, err,
	            errlen) == -1)) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", err);
		cfg_seterr(err, errlen, "%s: %s", name, tmp);
		return -1;
	}
	/*
	 * An unreadable CA file would make every Graph call fail TLS
	 * verification at run time; say so at start-up instead. (It must
	 * hold PEM certificates; curl checks that on first use.) The
	 * effective ids: priv.c checks this file as [server] user while
	 * its real uid is still root's.
	 */
	if (c->ca_file != NULL &&
	    faccessat(AT_FDCWD, c->ca_file, R_OK, AT_EACCESS) == -1) {
		cfg_seterr(err, errlen, "%s: [meta] ca_file: %s: %s", name,
		    c->ca_file, strerror(errno));
		return -1;
	}
	if (strncmp(c->listen, "unix:", 5) != 0 &&
	    strchr(c->listen, ':') == NULL) {
		cfg_seterr(err, errlen,
		    "%s: [server] listen: \"%s\" is not "
		    "HOST:PORT or unix:PATH",
		    name, c->listen);
		return -1;
	}
	if (cfg_ops(c, name, err, errlen) == -1)
		return -1;
	return cfg_user(c, name, err, errlen);
}

struct config *
config_parse(const char *name, const char *text, char *err, size_t errlen)
{
	struct config     *c;
	char              *copy = NULL, *line, *next, *eq, *k, *v;
	char               section[32] = "", where[512];
	size_t             i, lineno = 0;
	const struct ckey *key;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->workers = 4;
	c->max_requests = 10000;
	c->log_level = LOG_LVL_INFO;
	c->max_body = 1L << 20;
	c->drain_seconds = 30;
	c->session_idle_minutes = 120;
	c->session_max_hours = 24 * 7;
	c->db_port = 3306;
	c->connect_timeout_ms = 5000;
	c->timeout_ms = 20000;
	c->max_retries = 3;
	/* Below Apache's default ProxyTimeout (60 s), with room for the
	   database and the page. */
	c->request_budget_ms = 30000;
	/* Bulkhead 0: half the pool's workers (meta_gate.c). */
	c->breaker_failures = 5;
	c->breaker_seconds = 30;
	c->webhook_max_body = 1L << 20;
	c->webhook_silence_minutes = 24 * 60;
	c->webhook_retention_days = 30;
	c->api_max_upload_bytes = 100L << 20;
	c->api_gate_lease_ms = 250;
	c->monitor_enabled = 1;
	c->monitor_interval_minutes = 60;
	c->monitor_expiry_warning_days = 7;
	c->sender_enabled = 0;
	c->sender_max_in_flight = 256;
	c->sender_per_number_mps = 80;
	c->sender_pair_interval_ms = 6000;
	c->sender_max_attempts = 5;
	c->sender_claim_timeout_s = 300;
	if ((copy = strdup(text)) == NULL)
		goto fail;

	for (line = copy; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = cfg_trim(line);
		snprintf(where, sizeof(where), "%s:%zu", name, lineno);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			v = strchr(line, ']');
			if (v == NULL || v[1] != '\0' ||
			    (size_t)(v - line - 1) >= sizeof(section)) {
				cfg_seterr(err, errlen, "%s: bad section line",
				    where);
				goto fail;
			}
			*v = '\0';
			snprintf(section, sizeof(section), "%s", line + 1);
			if (!cfg_section_known(section)) {
				cfg_seterr(err, errlen,
				    "%s: unknown section "
				    "[%s]",
				    where, section);
				goto fail;
			}
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			cfg_seterr(err, errlen, "%s: expected key = value",
			    where);
			goto fail;
		}
		*eq = '\0';
		k = cfg_trim(line);
		v = cfg_trim(eq + 1);
		if (*section == '\0') {
			cfg_seterr(err, errlen,
			    "%s: %s: key outside of a "
			    "[section]",
			    where, k);
			goto fail;
		}
		key = NULL;
		for (i = 0; i < sizeof(ckeys) / sizeof(ckeys[0]); i++)
			if (strcmp(ckeys[i].section, section) == 0 &&
			    strcmp(ckeys[i].key, k) == 0)
				key = &ckeys[i];
		if (key == NULL) {
			cfg_seterr(err, errlen, "%s: unknown key [%s] %s",
			    where, section, k);
			goto fail;
		}
		if (cfg_set(c, key, v, where, err, errlen) == -1)
			goto fail;
	}
	if (cfg_validate(c, name, err, errlen) == -1)
		goto fail;
	sodium_memzero(copy, strlen(text));
	free(copy);
	return c;
fail:
	if (copy) {
		sodium_memzero(copy, strlen(text));
		free(copy);
	}
	config_free(c);
	return NULL;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *c;
	char          *text;
	size_t         len;

	/* The file may hold [database] password: see cfg_slurp(). */
	if ((text = cfg_slurp(path, 1 << 20, &len, err, errlen)) == NULL)
		return NULL;
	if (memchr(text, '\0', len) != NULL) {
		cfg_seterr(err, errlen, "%s: contains a NUL byte", path);
		c = NULL;
	} else
		c = config_parse(path, text, err, errlen);
	sodium_memzero(text, len);
	free(text);
	return c;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < sizeof(ckeys) / sizeof(ckeys[0]); i++) {
		if (ckeys[i].type == C_SECRET)
			cfg_free_secret(cfg_str(c, &ckeys[i]));
		else if (ckeys[i].type == C_STR) {
			free(*cfg_str(c, &ckeys[i]));
			*cfg_str(c, &ckeys[i]) = NULL;
		}
	}
	for (i = 0; i < (size_t)c->nsecret_files; i++)
		free(c->secret_files[i].path);
	free(c);
}
