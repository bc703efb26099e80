/*
 * waba-connect-admin doctor (doc/contract.md, Admin commands): checks an
 * installation end to end and prints one line per check, "ok", "warn" or
 * "FAIL" first, exit 1 when any failed. The checks: the config file
 * (parsed, by then, and not readable by others), the key ring (owner,
 * mode 0600, well-formed), the `*_file` secrets and their directories
 * (who else may read or replace them), every database server reachable (each node
 * of a host list on its own, with its Galera state) and every
 * database at this program's schema, Meta's Graph API reachable (over
 * TLS with [meta] ca_file, when https), the webhook callback answering
 * Meta's verification handshake through the web server at [server]
 * base_url, and each connected workspace's webhook subscription as the
 * monitor's last pass found it (the workspace's health row), and how
 * old that pass is.
 *
 * No line holds a secret: the verify token is sent, as Meta sends it,
 * but never printed; URLs are printed without their query string.
 */
#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "admin.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "store/connection.h"
#include "store/migrate.h"
#include "store/monitor.h"
#include "store/sql.h"
#include "store/workspaces.h"
#include "vault.h"

enum doc_verdict { DOC_OK, DOC_WARN, DOC_FAIL };

struct doc {
	struct ctx *c;
	int         failed, warned;
	/* Servers already found unreachable: their workspaces say so. */
	struct db_server down[16];
	int              ndown;
	/* Host lists whose nodes were checked: once each. */
	struct db_server listed[16];
	int              nlisted;
};

static void doc_line(struct doc *, enum doc_verdict, const char *check,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
doc_line(struct doc *d, enum doc_verdict v, const char *check, const char *fmt,
    ...)
{
	static const char *words[] = { "ok  ", "warn", "FAIL" };
	va_list            ap;

	printf("%s %s: ", words[v], check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	d->failed += v == DOC_FAIL;
	d->warned += v == DOC_WARN;
}

/* "unix:PATH" or "HOST:PORT"; the control server's when srv is empty. */
static void
doc_server_name(const struct ctx *c, const struct db_server *srv, char *out,
    size_t len)
{
	const struct config *cfg = c->cfg;

	if (srv != NULL && srv->socket[0])
		snprintf(out, len, "unix:%s", srv->socket);
	else if (srv != NULL && srv->host[0])
		/* A cluster's node list names its ports itself. */
		snprintf(out, len, strchr(srv->host, ',') ? "%s" : "%s:%u",
		    srv->host, srv->port);
	else if (cfg->db_socket)
		snprintf(out, len, "unix:%s", cfg->db_socket);
	else
		snprintf(out, len, strchr(cfg->db_host, ',') ? "%s" : "%s:%d",
		    cfg->db_host, cfg->db_port);
}

/*
 * One node of a host list. A node down or not Synced is a warning: the
 * server still answers through the others, but with less to spare.
 */
static void
doc_node(void *arg, const char *node, const char *detail, int ok)
{
	struct doc *d = arg;

	if (!ok)
		doc_line(d, DOC_WARN, "database node", "%s: %s", node, detail);
	else if (*detail == '\0')
		doc_line(d, DOC_OK, "database node", "%s reachable", node);
	else if (strcmp(detail, "Synced") == 0)
		doc_line(d, DOC_OK, "database node", "%s reachable, Galera %s",
		    node, detail);
	else
		doc_line(d, DOC_WARN, "database node",
		    "%s reachable, but Galera says %s (not Synced: it may "
		    "refuse statements or answer stale)",
		    node, detail);
}

/* The nodes of srv's host list (NULL: the control server's), once. */
static void
doc_nodes(struct doc *d, const struct db_server *srv)
{
	struct db_server none;
	int              i;

	memset(&none, 0, sizeof(none));
	if (srv == NULL)
		srv = &none;
	for (i = 0; i < d->nlisted; i++)
		if (memcmp(&d->listed[i], srv, sizeof(*srv)) == 0)
			return;
	if (d->nlisted < (int)(sizeof(d->listed) / sizeof(d->listed[0])))
		d->listed[d->nlisted++] = *srv;
	(void)db_nodes(d->c->db, srv, doc_node, d);
}

/* The config file: secrets may be in it, so nobody else may read it. */
static void
doc_config(struct doc *d)
{
	struct stat st;

	if (d->c->config_path == NULL || stat(d->c->config_path, &st) == -1) {
		doc_line(d, DOC_FAIL, "config", "%s: %s",
		    d->c->config_path ? d->c->config_path : "(none)",
		    strerror(errno));
		return;
	}
	if (st.st_mode & S_IRWXO)
		doc_line(d, DOC_FAIL, "config",
		    "%s: mode %04o lets others read it; make it 0640 (owner "
		    "root, the pool's group)",
		    d->c->config_path, (unsigned)(st.st_mode & 07777));
	else
		doc_line(d, DOC_OK, "config", "%s parsed, mode %04o",
		    d->c->config_path, (unsigned)(st.st_mode & 07777));
}

/*
 * The key ring is the pool user's ([server] user; without it, whoever
 * runs doctor, as the pool would be), mode 0600 (vault.c refuses more).
 */
static void
doc_key_ring(struct doc *d)
{
	const struct config *cfg = d->c->cfg;
	struct passwd       *pw;
	struct vault        *v;
	struct stat          st;
	char                 err[512], who[64];
	uid_t                want = cfg->user ? cfg->user_uid : geteuid();

	if (stat(cfg->key_ring_file, &st) == -1) {
		doc_line(d, DOC_FAIL, "key ring", "%s: %s%s",
		    cfg->key_ring_file, strerror(errno),
		    errno == ENOENT ? " (run `" PROG " keys init`)" : "");
		return;
	}
	if ((pw = getpwuid(want)) != NULL)
		snprintf(who, sizeof(who), "%s", pw->pw_name);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)want);
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		doc_line(d, DOC_FAIL, "key ring",
		    "%s: mode %04o lets group or others read it; it must be "
		    "0600",
		    cfg->key_ring_file, (unsigned)(st.st_mode & 07777));
		return;
	}
	if (st.st_uid != want) {
		doc_line(d, DOC_FAIL, "key ring",
		    "%s: owned by uid %u, not by %s, who the pool serves as",
		    cfg->key_ring_file, (unsigned)st.st_uid, who);
		return;
	}
	if ((v = vault_open(cfg->key_ring_file, err, sizeof(err))) == NULL) {
		doc_line(d, DOC_FAIL, "key ring", "%s", err);
		return;
	}
	doc_line(d, DOC_OK, "key ring",
	    "%s: owner %s, mode 0600, current key version %u",
	    cfg->key_ring_file, who, (unsigned)vault_current_version(v));
	vault_close(v);
}

/* "name" for uid, or "uid N" when it has none. */
static void
doc_user_name(uid_t uid, char *out, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(out, len, "%s", pw->pw_name);
	else
		snprintf(out, len, "uid %u", (unsigned)uid);
}

/*
 * A `*_file` secret ([database] password_file, [meta] app_secret_file,
 * ...): read once at start-up, as root or as the pool's user, so it is
 * owned by one of them; nobody else may write it, and nobody else may
 * read it but the pool's group (root:GROUP 0640, as debian/postinst
 * makes them, or USER 0600). Graded as the key ring is: a fail, since
 * whoever reads it can sign webhooks or reach the database as us.
 */
static void
doc_secret_file(struct doc *d, const struct config_secret_file *f)
{
	const struct config *cfg = d->c->cfg;
	uid_t                uid = cfg->user ? cfg->user_uid : geteuid();
	gid_t                gid = cfg->user ? cfg->user_gid : getegid();
	struct stat          st;
	char                 check[96], who[64];
	unsigned             mode;

	snprintf(check, sizeof(check), "[%s] %s", f->section, f->key);
	if (stat(f->path, &st) == -1) {
		doc_line(d, DOC_FAIL, check, "%s: %s", f->path,
		    strerror(errno));
		return;
	}
	mode = (unsigned)(st.st_mode & 07777);
	doc_user_name(uid, who, sizeof(who));
	if (st.st_mode & S_IRWXO)
		doc_line(d, DOC_FAIL, check,
		    "%s: mode %04o lets others read or write it; make it 0600 "
		    "(owner %s) or 0640 (owner root, the pool's group)",
		    f->path, mode, who);
	else if (st.st_mode & (S_IWGRP | S_IXGRP))
		doc_line(d, DOC_FAIL, check,
		    "%s: mode %04o lets its group write it; make it 0600 or "
		    "0640",
		    f->path, mode);
	else if ((st.st_mode & S_IRGRP) && st.st_gid != gid)
		doc_line(d, DOC_FAIL, check,
		    "%s: mode %04o lets group %u read it, not the pool's "
		    "(%u); make it 0600, or give it the pool's group",
		    f->path, mode, (unsigned)st.st_gid, (unsigned)gid);
	else if (st.st_uid != uid && st.st_uid != 0)
		doc_line(d, DOC_FAIL, check,
		    "%s: owned by uid %u, not by root or %s, who the pool "
		    "serves as",
		    f->path, (unsigned)st.st_uid, who);
	else
		doc_line(d, DOC_OK, check, "%s: owner %s, mode %04o", f->path,
		    st.st_uid == 0 ? "root" : who, mode);
}

/*
 * The directory of a secret file: whoever may write it may put another
 * file in the secret's place (rename is the directory's business, not
 * the file's). Only root, the pool's user and the pool's group may; a
 * sticky directory (like /tmp) keeps others from renaming our files,
 * but they may still plant one before it exists: a warning.
 */
static void
doc_secret_dir(struct doc *d, const char *path)
{
	const struct config *cfg = d->c->cfg;
	uid_t                uid = cfg->user ? cfg->user_uid : geteuid();
	gid_t                gid = cfg->user ? cfg->user_gid : getegid();
	struct stat          st;
	char                *copy, *dir, who[64];
	unsigned             mode;

	if ((copy = strdup(path)) == NULL) {
		doc_line(d, DOC_FAIL, "secret directory", "out of memory");
		return;
	}
	dir = dirname(copy);
	if (stat(dir, &st) == -1) {
		doc_line(d, DOC_FAIL, "secret directory", "%s: %s", dir,
		    strerror(errno));
		goto out;
	}
	mode = (unsigned)(st.st_mode & 07777);
	doc_user_name(st.st_uid, who, sizeof(who));
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		doc_line(d, DOC_FAIL, "secret directory",
		    "%s: mode %04o lets others replace the secrets in it; "
		    "make it 0750 (owner root, the pool's group)",
		    dir, mode);
	else if ((st.st_mode & S_IWGRP) && st.st_gid != gid &&
	    !(st.st_mode & S_ISVTX))
		doc_line(d, DOC_FAIL, "secret directory",
		    "%s: mode %04o lets group %u replace the secrets in it; "
		    "make it 0750",
		    dir, mode, (unsigned)st.st_gid);
	else if (st.st_uid != uid && st.st_uid != 0)
		doc_line(d, DOC_FAIL, "secret directory",
		    "%s: owned by %s, who may replace the secrets in it; "
		    "make root its owner",
		    dir, who);
	else if (st.st_mode & (S_IWOTH | S_IWGRP))
		doc_line(d, DOC_WARN, "secret directory",
		    "%s: mode %04o: others may put a file where a secret is "
		    "missing; keep secrets in a directory of mode 0750",
		    dir, mode);
	else
		doc_line(d, DOC_OK, "secret directory",
		    "%s: owner %s, mode %04o", dir, who, mode);
out:
	free(copy);
}

/* Every `*_file` secret the config named, then each directory once. */
static void
doc_secret_files(struct doc *d)
{
	const struct config *cfg = d->c->cfg;
	char                 a[4096], b[4096], *da, *db;
	int                  i, j, seen;

	for (i = 0; i < cfg->nsecret_files; i++)
		doc_secret_file(d, &cfg->secret_files[i]);
	for (i = 0; i < cfg->nsecret_files; i++) {
		snprintf(a, sizeof(a), "%s", cfg->secret_files[i].path);
		da = dirname(a);
		for (seen = 0, j = 0; j < i && !seen; j++) {
			snprintf(b, sizeof(b), "%s", cfg->secret_files[j].path);
			db = dirname(b);
			seen = strcmp(da, db) == 0;
		}
		if (!seen)
			doc_secret_dir(d, cfg->secret_files[i].path);
	}
}

static int
doc_server_down(const struct doc *d, const struct db_server *srv)
{
	int i;

	for (i = 0; i < d->ndown; i++)
		if (strcmp(d->down[i].host, srv->host) == 0 &&
		    d->down[i].port == srv->port &&
		    strcmp(d->down[i].socket, srv->socket) == 0)
			return 1;
	return 0;
}

/*
 * How old the monitor's last check of a workspace is: older than two
 * intervals (and five minutes' slack) means no monitor is running, and
 * every verdict drawn from the health row is stale.
 */
static void
doc_monitor_age(struct doc *d, const struct workspace *ws,
    const char *checked_at)
{
	const struct config *cfg = d->c->cfg;
	struct tm            tm;
	char                 check[128];
	long                 age, most;

	snprintf(check, sizeof(check), "workspace %s monitor", ws->slug);
	memset(&tm, 0, sizeof(tm));
	if (strptime(checked_at, "%Y-%m-%d %H:%M:%S", &tm) == NULL)
		return;
	age = (long)(time(NULL) - timegm(&tm));
	most = 2L * cfg->monitor_interval_minutes * 60 + 300;
	if (age > most)
		doc_line(d, DOC_WARN, check,
		    "last check %ld minutes ago ([monitor] interval_minutes "
		    "%d): is a monitor running (the pool's child, or "
		    "waba-connect-monitor.timer)?",
		    age / 60, cfg->monitor_interval_minutes);
	else
		doc_line(d, DOC_OK, check, "last check %ld minutes ago",
		    age < 0 ? 0 : age / 60);
}

/*
 * A workspace's database: its server reached once (one line per server
 * that does not answer), then its schema version; the subscription as
 * the monitor last saw it.
 */
static int
doc_workspace(const struct workspace *ws, void *arg)
{
	struct doc       *d = arg;
	struct ctx       *c = d->c;
	struct conn_row   conn;
	struct mon_health h;
	char              where[300], err[512], check[128];
	int               have = 0;
	enum store_rc     rc;

	doc_server_name(c, &ws->srv, where, sizeof(where));
	snprintf(check, sizeof(check), "workspace %s database", ws->slug);
	if (doc_server_down(d, &ws->srv)) {
		doc_line(d, DOC_FAIL, check, "%s on %s: server unreachable",
		    ws->db_name, where);
		return 0;
	}
	if (db_conn(c->db, &ws->srv, err, sizeof(err)) == NULL) {
		doc_line(d, DOC_FAIL, "database server", "%s: %s", where, err);
		if (d->ndown < (int)(sizeof(d->down) / sizeof(d->down[0])))
			d->down[d->ndown++] = ws->srv;
		doc_line(d, DOC_FAIL, check, "%s on %s: server unreachable",
		    ws->db_name, where);
		return 0;
	}
	if ((rc = store_mig_workspace_version(c->db, ws, &have)) != STORE_OK) {
		doc_line(d, DOC_FAIL, check, "%s on %s: %s", ws->db_name, where,
		    rc == STORE_GONE ? "server lost" : "database error");
		return 0;
	}
	if (have != store_mig_workspace_latest()) {
		doc_line(d, DOC_FAIL, check,
		    "%s on %s: schema version %d, this program's is %d: run "
		    "`" PROG " migrate`",
		    ws->db_name, where, have, store_mig_workspace_latest());
		return 0;
	}
	doc_line(d, DOC_OK, check, "%s on %s: schema version %d", ws->db_name,
	    where, have);
	if (ws->srv.host[0] || ws->srv.socket[0])
		doc_nodes(d, &ws->srv);

	snprintf(check, sizeof(check), "workspace %s subscription", ws->slug);
	if ((rc = store_conn_get(c->db, ws, &conn)) != STORE_OK &&
	    rc != STORE_NOTFOUND) {
		doc_line(d, DOC_FAIL, check, "reading the connection: %s",
		    "database error");
		return 0;
	}
	if (rc == STORE_NOTFOUND || strcmp(conn.status, "connected") != 0) {
		doc_line(d, DOC_OK, check, "nothing to check (%s)",
		    rc == STORE_NOTFOUND ? "not_connected" : conn.status);
		return 0;
	}
	if (store_mon_health_get(c->db, ws, &h) != STORE_OK)
		doc_line(d, DOC_FAIL, check, "reading the health row: %s",
		    "database error");
	else if (!h.has_row)
		doc_line(d, DOC_WARN, check,
		    "never checked by the monitor yet (`" PROG
		    " monitor --workspace %s`)",
		    ws->slug);
	else if (h.subscription_ok == 0)
		doc_line(d, DOC_FAIL, check,
		    "the app is not subscribed to WABA %s's webhooks (monitor, "
		    "%s UTC)",
		    conn.waba_id, h.checked_at);
	else if (h.subscription_ok == 1)
		doc_line(d, DOC_OK, check, "subscribed (monitor, %s UTC)",
		    h.checked_at);
	else
		doc_line(d, DOC_WARN, check,
		    "unknown: the monitor's last check (%s UTC) could not "
		    "read it%s%s",
		    h.checked_at, h.last_error[0] ? ": " : "", h.last_error);
	if (h.has_row)
		doc_monitor_age(d, ws, h.checked_at);
	store_mon_health_free(&h);
	return 0;
}

/* The control server and database, then every workspace's. */
static void
doc_databases(struct doc *d)
{
	struct ctx   *c = d->c;
	char          where[300], err[512];
	int           have = 0;
	enum store_rc rc;

	doc_server_name(c, NULL, where, sizeof(where));
	if (db_ping(c->db, err, sizeof(err)) == -1) {
		doc_line(d, DOC_FAIL, "database server", "%s: %s", where, err);
		doc_line(d, DOC_FAIL, "workspaces",
		    "not checked: the control database cannot be reached");
		return;
	}
	doc_line(d, DOC_OK, "database server", "%s reachable", where);
	doc_nodes(d, NULL);
	if ((rc = store_mig_control_version(c->db, &have)) != STORE_OK) {
		doc_line(d, DOC_FAIL, "control database", "%s: database error",
		    c->cfg->control_db);
		return;
	}
	if (have != store_mig_control_latest()) {
		doc_line(d, DOC_FAIL, "control database",
		    "%s: schema version %d, this program's is %d: run `" PROG
		    " migrate`",
		    c->cfg->control_db, have, store_mig_control_latest());
		return;
	}
	doc_line(d, DOC_OK, "control database", "%s: schema version %d",
	    c->cfg->control_db, have);
	if ((rc = store_ws_each(c->db, doc_workspace, d)) != STORE_OK)
		doc_line(d, DOC_FAIL, "workspaces", "listing them: %s",
		    rc == STORE_GONE ? "server lost" : "database error");
}

static size_t
doc_sink(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	/* The handshake answers a few bytes; more is not ours. */
	if (b->len + size * n > 4096 || buf_append(b, p, size * n) == -1)
		return 0;
	return size * n;
}

/*
 * One GET: the status in *status (0 when no HTTP answer), the body in
 * body, libcurl's reason in err. ca for https (NULL: the system's).
 */
static int
doc_get(const struct config *cfg, const char *url, const char *ca, long *status,
    struct buf *body, char *err, size_t errlen)
{
	char     cerr[CURL_ERROR_SIZE] = "";
	CURL    *h;
	CURLcode rc;

	*status = 0;
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "waba-connect-admin doctor");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, doc_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	else
		snprintf(err, errlen, "%s",
		    cerr[0] ? cerr : curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	return *status != 0 ? 0 : -1;
}

/*
 * Meta's Graph API answers at all (any HTTP status: / without a token is
 * a Graph error, and that is an answer). This is no Graph call: no
 * token, no endpoint, nothing Meta acts on, so it does not go through
 * graph_do and its gate; only the TCP and TLS path is tried, with the
 * CA file the pool uses.
 */
static void
doc_meta(struct doc *d)
{
	const struct config *cfg = d->c->cfg;
	struct buf           body = BUF_INIT;
	char                 url[512], err[CURL_ERROR_SIZE + 64] = "";
	long                 status;
	int tls = strncmp(cfg->graph_base_url, "https:", 6) == 0;

	snprintf(url, sizeof(url), "%s/", cfg->graph_base_url);
	if (doc_get(cfg, url, cfg->ca_file, &status, &body, err, sizeof(err)) ==
	    -1)
		doc_line(d, DOC_FAIL, "meta", "%s: %s", cfg->graph_base_url,
		    err);
	else if (tls)
		doc_line(d, DOC_OK, "meta",
		    "%s reachable over TLS, certificate verified with %s",
		    cfg->graph_base_url,
		    cfg->ca_file ? cfg->ca_file : "the system's CAs");
	else
		doc_line(d, DOC_OK, "meta",
		    "%s reachable (http: a loopback stand-in, no TLS)",
		    cfg->graph_base_url);
	buf_free(&body);
}

/*
 * What Meta does when a webhook is configured: GET the callback with
 * hub.mode=subscribe, the verify token and a challenge, through the web
 * server at [server] base_url; it must answer 200 and the challenge.
 */
static void
doc_webhook(struct doc *d)
{
	const struct config *cfg = d->c->cfg;
	struct buf           body = BUF_INIT, url = BUF_INIT;
	unsigned char        rnd[12];
	char                 challenge[32], err[CURL_ERROR_SIZE + 64] = "";
	char                *tok = NULL;
	long                 status;
	size_t               i;

	if (cfg->webhook_verify_token == NULL) {
		doc_line(d, DOC_FAIL, "webhook",
		    "no [meta] webhook_verify_token(_file)");
		return;
	}
	randombytes_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(challenge + 2 * i, 3, "%02x", rnd[i]);
	if ((tok = curl_easy_escape(NULL, cfg->webhook_verify_token, 0)) ==
	        NULL ||
	    buf_printf(&url,
	        "%s/webhooks/meta?hub.mode=subscribe&hub.verify_token=%s"
	        "&hub.challenge=%s",
	        cfg->base_url, tok, challenge) == -1) {
		doc_line(d, DOC_FAIL, "webhook", "out of memory");
		goto out;
	}
	if (doc_get(cfg, url.data, NULL, &status, &body, err, sizeof(err)) ==
	    -1)
		doc_line(d, DOC_FAIL, "webhook", "%s/webhooks/meta: %s",
		    cfg->base_url, err);
	else if (status != 200)
		doc_line(d, DOC_FAIL, "webhook",
		    "%s/webhooks/meta answered the handshake with %ld%s",
		    cfg->base_url, status,
		    status == 403 ? " (another verify token?)" : "");
	else if (body.len != strlen(challenge) ||
	    memcmp(body.data, challenge, body.len) != 0)
		doc_line(d, DOC_FAIL, "webhook",
		    "%s/webhooks/meta answered 200 without the challenge",
		    cfg->base_url);
	else
		doc_line(d, DOC_OK, "webhook",
		    "%s/webhooks/meta answers Meta's handshake", cfg->base_url);
out:
	if (tok != NULL) {
		sodium_memzero(tok, strlen(tok));
		curl_free(tok);
	}
	if (url.data != NULL)
		sodium_memzero(url.data, url.len);
	buf_free(&url);
	buf_free(&body);
}

int
admin_doctor(struct ctx *c)
{
	struct doc d;

	memset(&d, 0, sizeof(d));
	d.c = c;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	doc_config(&d);
	doc_key_ring(&d);
	doc_secret_files(&d);
	doc_databases(&d);
	doc_meta(&d);
	doc_webhook(&d);
	printf("%d failed, %d warnings\n", d.failed, d.warned);
	curl_global_cleanup();
	return d.failed ? EX_FAIL : 0;
}
