/*
 * waba-connect-admin: the operator's tool (DESIGN §6). It reuses the
 * services the workers use (config, db, store, vault) and adds only
 * argument checks and output. A table maps "NAME [SUB]" to a function;
 * each checks its operands before it touches the database, so a typo
 * never leaves half a change behind.
 *
 * Exit status: 0 ok, 1 failure (one line on stderr), 2 bad usage.
 * Passwords and tokens are read from standard input with read(2) into
 * sodium_malloc'd memory (stdio would keep copies in its buffers), never
 * echoed, and wiped as soon as they are hashed or encrypted.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "request.h"
#include "router.h"
#include "vault.h"
#include "store/connection.h"
#include "store/migrate.h"
#include "store/sql.h"
#include "store/tenants.h"
#include "store/webhooks.h"

#define PROG		"waba-connect-admin"
#define EX_FAIL		1
#define EX_USAGE	2
#define OPT_JSON	0x1	/* the command takes --json */
#define OPT_CATALOG	0x2	/* the command takes --catalog-id ID */
#define OPT_SERVER	0x4	/* --db-host HOST [--db-port N] | --db-socket P */
/* Characters (code points), not bytes: "é" is one character, as people count. */
#define PASSWORD_MIN_CHARS	12
/* The sign-in form's limit (handlers/auth.c), in bytes. */
#define PASSWORD_MAX_BYTES	1024

struct ctx {
	struct config	*cfg;
	struct db	*db;
	int		 json;
	const char	*catalog_id;
	const char	*db_host, *db_port, *db_socket;	/* OPT_SERVER */
	int		 argc;	/* operands, options taken out */
	char		**argv;
};

/* State carried through tenants_workspace_each() by the walkers below. */
struct walk {
	struct ctx	*c;
	struct vault	*v;
	uint32_t	 ver;
	uint32_t	 lo, hi;	/* key versions in use (keys rotate) */
	int		 failed, tokens, n;
	enum store_rc	 rc;
	struct workspace *list;
	struct workspace hit;
	json_object	*arr;
};

static void	usage(FILE *, const char *, int);

static int __attribute__((format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list	 ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EX_FAIL;
}

/* A mistake in the arguments found by a command itself. */
static int
misuse(const char *group, const char *why)
{
	fail("%s", why);
	usage(stderr, group, 0);
	return EX_USAGE;
}

/* The store has already logged the details (log_err) above this line. */
static int
store_fail(enum store_rc rc, const char *what)
{
	if (rc == STORE_GONE)
		return fail("%s: the database server cannot be reached", what);
	return fail("%s: database error", what);
}

/*
 * Connects, and with schema checks that the control database carries
 * this program's schema: on a fresh server a command then says what to
 * do instead of failing on a missing table.
 */
static int
need_db(struct ctx *c, int schema)
{
	char		 err[512];
	int		 have;
	enum store_rc	 rc;

	if (db_ping(c->db, err, sizeof(err)) == -1) {
		fail("cannot reach the database: %s", err);
		return -1;
	}
	if (!schema)
		return 0;
	if ((rc = migrate_control_version(c->db, &have)) != STORE_OK) {
		store_fail(rc, "checking the control database");
		return -1;
	}
	if (have < migrate_control_latest()) {
		fail("the control database %s is not migrated: run `" PROG
		    " migrate` first", c->cfg->control_db);
		return -1;
	}
	return 0;
}

/* Looks the workspace up, saying why when there is none. */
static int
find_workspace(struct ctx *c, const char *slug, struct workspace *ws)
{
	enum store_rc	 rc;

	if (!router_slug_valid(slug, strlen(slug)))
		return fail("bad workspace slug: use 1 to 63 of a-z, 0-9 and -");
	if (need_db(c, 1) == -1)
		return EX_FAIL;
	if ((rc = tenants_workspace_by_slug(c->db, slug, ws)) == STORE_NOTFOUND)
		return fail("no workspace %s", slug);
	if (rc != STORE_OK)
		return store_fail(rc, "looking up the workspace");
	return 0;
}

/* Code points of valid UTF-8: what a person calls characters. */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/*
 * Reads the first line of standard input (newline stripped) into
 * sodium_malloc'd *out, which the caller wipes and frees with
 * secret_free(). At a terminal it prompts on stderr with echo off.
 * It must be UTF-8 (the sign-in form accepts nothing else) of at least
 * min characters and at most max bytes. Returns the length in bytes,
 * or -1 after saying why.
 */
static long
read_secret(const char *what, size_t min, size_t max, char **out)
{
	struct termios	 old, quiet;
	char		*s, ch;
	size_t		 len = 0;
	ssize_t		 n;
	int		 tty, e = 0, over = 0;

	if ((*out = s = sodium_malloc(max + 1)) == NULL) {
		fail("out of memory");
		return -1;
	}
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "%s: ", what);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	while ((n = read(STDIN_FILENO, &ch, 1)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		if (ch == '\n')
			break;
		if (len == max) {
			over = 1;
			break;
		}
		s[len++] = ch;
	}
	sodium_memzero(&ch, sizeof(ch));
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (len > 0 && s[len - 1] == '\r')
		len--;
	s[len] = '\0';
	if (e != 0)
		fail("reading the %s: %s", what, strerror(e));
	else if (over)
		fail("the %s is longer than %zu bytes", what, max);
	else if (len == 0)
		fail("no %s: give it as the first line of standard input",
		    what);
	else if (!req_utf8_valid(s, len))
		fail("the %s is not valid UTF-8 text", what);
	else if (utf8_chars(s, len) < min)
		fail("the %s is too short: %zu characters, it needs at least "
		    "%zu characters", what, utf8_chars(s, len), min);
	else
		return (long)len;
	return -1;
}

static void
secret_free(char *s, size_t cap)
{
	if (s == NULL)
		return;
	sodium_memzero(s, cap);
	sodium_free(s);
}

/* "YYYY-MM-DD HH:MM:SS" (UTC, as the store gives it) to ISO 8601. */
static const char *
iso_utc(const char *sql, char out[24])
{
	if (strlen(sql) < 19 || sql[10] != ' ')
		return NULL;
	snprintf(out, 24, "%.10sT%.8sZ", sql, sql + 11);
	return out;
}

/* JSON null for what the store leaves empty. */
static json_object *
jstr(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static int
print_json(json_object *o)
{
	const char	*s;

	if ((s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL)
		return fail("out of memory");
	printf("%s\n", s);
	return 0;
}

/* ---- migrate --------------------------------------------------------- */

static void
report_line(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

static int
migrate_one(const struct workspace *ws, void *arg)
{
	struct walk	*w = arg;
	enum store_rc	 rc;

	if ((rc = migrate_workspace(w->c->db, ws, report_line, NULL)) ==
	    STORE_OK)
		return 0;
	w->failed++;
	fail("workspace %s: migration of %s failed", ws->slug, ws->db_name);
	return rc == STORE_GONE;	/* the others would fail the same way */
}

static int
cmd_migrate(struct ctx *c)
{
	struct walk	 w = { .c = c };
	enum store_rc	 rc;

	if (need_db(c, 0) == -1)
		return EX_FAIL;
	if ((rc = migrate_control(c->db, report_line, NULL)) != STORE_OK)
		return store_fail(rc, "migrating the control database");
	if ((rc = tenants_workspace_each(c->db, migrate_one, &w)) != STORE_OK)
		return store_fail(rc, "listing workspaces");
	if (w.failed)
		return fail("%d workspace database(s) not migrated", w.failed);
	return 0;
}

/* ---- workspace ------------------------------------------------------- */

/* 1..200 bytes of UTF-8, not blank, no C0 or C1 control characters. */
static int
name_valid(const char *s)
{
	size_t	 len = strlen(s), i;
	int	 blank = 1;

	if (len < 1 || len > 200 || !req_utf8_valid(s, len))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || (ch == 0xc2 &&
		    (unsigned char)s[i + 1] < 0xa0))	/* U+0080..U+009F */
			return 0;
		if (ch != ' ')
			blank = 0;
	}
	return !blank;
}

/*
 * The server a new workspace's database goes on, from --db-host/--db-port
 * or --db-socket; all empty: the control DB's server. The database user
 * and password are the config's, on every server.
 */
static int
server_opts(const struct ctx *c, struct db_server *srv)
{
	const char	*h = c->db_host, *s = c->db_socket;
	char		*end;
	long		 port;
	size_t		 i;

	memset(srv, 0, sizeof(*srv));
	if (h && s)
		return misuse("workspace", "give --db-host or --db-socket, "
		    "not both");
	if (c->db_port && !h)
		return misuse("workspace", "--db-port goes with --db-host");
	if (h) {
		if (*h == '\0' || strlen(h) >= sizeof(srv->host) ||
		    strspn(h, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != strlen(h))
			return fail("bad --db-host: a host name or address");
		snprintf(srv->host, sizeof(srv->host), "%s", h);
	}
	if (c->db_port) {
		errno = 0;
		port = strtol(c->db_port, &end, 10);
		if (errno || end == c->db_port || *end || port < 1 ||
		    port > 65535)
			return fail("bad --db-port: a number from 1 to 65535");
		srv->port = (unsigned int)port;
	}
	if (s) {
		if (*s != '/' || strlen(s) >= sizeof(srv->socket))
			return fail("bad --db-socket: an absolute path");
		for (i = 0; s[i]; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return fail("bad --db-socket: an absolute path");
		snprintf(srv->socket, sizeof(srv->socket), "%s", s);
	}
	return 0;
}

/* "the control server", "host:port" or "unix:path", for people. */
static void
server_name(const struct db_server *srv, char *out, size_t len)
{
	if (srv->socket[0])
		snprintf(out, len, "unix:%s", srv->socket);
	else if (srv->host[0] && srv->port)
		snprintf(out, len, "%s:%u", srv->host, srv->port);
	else if (srv->host[0])
		snprintf(out, len, "%s", srv->host);
	else
		snprintf(out, len, "%s", "");
}

static int
cmd_workspace_add(struct ctx *c)
{
	const char	*slug = c->argv[0], *name = c->argv[1];
	struct workspace ws;
	struct db_server srv;
	char		 where[300];
	int		 rc;

	if ((rc = server_opts(c, &srv)) != 0)
		return rc;
	if (!router_slug_valid(slug, strlen(slug)))
		return fail("bad workspace slug: use 1 to 63 of a-z, 0-9 and -");
	if (!name_valid(name))
		return fail("bad workspace name: give 1 to 200 bytes of UTF-8 "
		    "text without control characters");
	if (need_db(c, 1) == -1)
		return EX_FAIL;
	/* A server we cannot reach must not leave a workspace behind. */
	if ((srv.host[0] || srv.socket[0]) &&
	    db_conn(c->db, &srv, where, sizeof(where)) == NULL)
		return fail("cannot reach the workspace's database server: %s",
		    where);
	if ((rc = tenants_workspace_add(c->db, slug, name, &srv, &ws)) ==
	    STORE_DUP)
		return fail("workspace %s already exists", slug);
	if (rc != STORE_OK)
		return store_fail(rc, "adding the workspace");
	if (migrate_workspace(c->db, &ws, NULL, NULL) != STORE_OK)
		return fail("workspace %s (id %" PRIu64 ") was added but its "
		    "database %s was not created: run `" PROG " migrate`",
		    ws.slug, ws.id, ws.db_name);
	server_name(&ws.srv, where, sizeof(where));
	printf("created workspace %s \"%s\" (id %" PRIu64 ", database %s%s%s)"
	    "\n", ws.slug, ws.name, ws.id, ws.db_name, *where ? " on " : "",
	    where);
	return 0;
}

static int
list_one(const struct workspace *ws, void *arg)
{
	struct walk		*w = arg;
	struct workspace	*n;
	char			 where[300];

	if (w->arr) {
		json_object	*o;

		if ((o = json_object_new_object()) == NULL)
			return w->failed = 1;
		json_object_object_add(o, "id",
		    json_object_new_int64((int64_t)ws->id));
		json_object_object_add(o, "slug", jstr(ws->slug));
		json_object_object_add(o, "name", jstr(ws->name));
		json_object_object_add(o, "database", jstr(ws->db_name));
		server_name(&ws->srv, where, sizeof(where));
		/* null: the control DB's server. */
		json_object_object_add(o, "server", *where ? jstr(where) :
		    NULL);
		json_object_array_add(w->arr, o);
		return 0;
	}
	if ((n = realloc(w->list, (size_t)(w->n + 1) * sizeof(*n))) == NULL)
		return w->failed = 1;
	w->list = n;
	w->list[w->n++] = *ws;
	return 0;
}

/* Columns on a terminal: code points, not bytes. */
static int
width(const char *s)
{
	return (int)utf8_chars(s, strlen(s));
}

static int
cmd_workspace_list(struct ctx *c)
{
	struct walk	 w = { .c = c };
	enum store_rc	 rc;
	char		 where[300];
	int		 i, wslug = 4, wname = 4;

	if (need_db(c, 1) == -1)
		return EX_FAIL;
	if (c->json && (w.arr = json_object_new_array()) == NULL)
		return fail("out of memory");
	if ((rc = tenants_workspace_each(c->db, list_one, &w)) == STORE_OK &&
	    w.failed)
		rc = STORE_ERR;		/* out of memory: no half a list */
	if (rc == STORE_OK && c->json && print_json(w.arr) != 0)
		rc = STORE_ERR;
	for (i = 0; rc == STORE_OK && i < w.n; i++) {
		if (width(w.list[i].slug) > wslug)
			wslug = width(w.list[i].slug);
		if (width(w.list[i].name) > wname)
			wname = width(w.list[i].name);
	}
	if (rc == STORE_OK && !c->json)
		printf("%-6s  %-*s  %-*s  %s\n", "ID", wslug, "SLUG", wname,
		    "NAME", "DATABASE");
	for (i = 0; rc == STORE_OK && i < w.n; i++) {
		server_name(&w.list[i].srv, where, sizeof(where));
		printf("%-6" PRIu64 "  %-*s  %s%*s  %s%s%s\n", w.list[i].id,
		    wslug, w.list[i].slug, w.list[i].name,
		    wname - width(w.list[i].name), "", w.list[i].db_name,
		    *where ? " on " : "", where);
	}
	json_object_put(w.arr);
	free(w.list);
	return rc == STORE_OK ? 0 : store_fail(rc, "listing workspaces");
}

/* ---- user ------------------------------------------------------------ */

/* Checks in and lowercases into out, as the sign-in form does. */
static int
email_norm(const char *in, char out[255])
{
	size_t	 len = strlen(in), i, at = 0, nat = 0;

	if (len < 3 || len > 254 || !req_utf8_valid(in, len))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch <= 0x20 || ch == 0x7f)
			return -1;
		if (ch == '@') {
			nat++;
			at = i;
		}
		out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	out[len] = '\0';
	return nat == 1 && at > 0 && at + 1 < len ? 0 : -1;
}

static int
cmd_user_add(struct ctx *c)
{
	struct workspace ws;
	struct user	 u;
	char		 email[255], hash[crypto_pwhash_STRBYTES], *pw = NULL;
	long		 len;
	uint64_t	 id;
	enum store_rc	 rc;
	int		 ret;

	if (email_norm(c->argv[1], email) == -1)
		return fail("bad email address: 3 to 254 bytes, one @, no "
		    "spaces");
	if ((ret = find_workspace(c, c->argv[0], &ws)) != 0)
		return ret;
	rc = tenants_user_by_email(c->db, email, &u, NULL, 0);
	if (rc == STORE_OK) {
		if ((rc = tenants_member_add(c->db, u.id, ws.id)) != STORE_OK)
			return store_fail(rc, "adding the membership");
		printf("added existing user %s to workspace %s (password "
		    "unchanged)\n", email, ws.slug);
		return 0;
	}
	if (rc != STORE_NOTFOUND)
		return store_fail(rc, "looking up the user");
	if ((len = read_secret("password", PASSWORD_MIN_CHARS,
	    PASSWORD_MAX_BYTES, &pw)) == -1)
		goto fail;
	/* argon2id, as the sign-in check (crypto_pwhash_str_verify) expects. */
	ret = crypto_pwhash_str_alg(hash, pw, (unsigned long long)len,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13);
	secret_free(pw, PASSWORD_MAX_BYTES + 1);
	pw = NULL;
	if (ret != 0) {
		fail("hashing the password: out of memory");
		goto fail;
	}
	if ((rc = tenants_user_add(c->db, email, hash, &id)) == STORE_DUP) {
		fail("user %s was created meanwhile: run the command again",
		    email);
		goto fail;
	}
	if (rc != STORE_OK) {
		store_fail(rc, "adding the user");
		goto fail;
	}
	if ((rc = tenants_member_add(c->db, id, ws.id)) != STORE_OK) {
		store_fail(rc, "adding the membership (run the command again)");
		goto fail;
	}
	printf("created user %s (id %" PRIu64 ") in workspace %s\n", email, id,
	    ws.slug);
	return 0;
fail:
	secret_free(pw, PASSWORD_MAX_BYTES + 1);
	return EX_FAIL;
}

/* ---- keys ------------------------------------------------------------ */

static int
cmd_keys_init(struct ctx *c)
{
	char	 err[512];

	if (vault_ring_init(c->cfg->key_ring_file, err, sizeof(err)) == -1)
		return fail("%s", err);
	printf("created key ring %s (key version 1, mode 0600); back it up: "
	    "without it no stored token can be decrypted\n",
	    c->cfg->key_ring_file);
	return 0;
}

static int
rekey_one(const struct workspace *ws, void *arg)
{
	struct walk	*w = arg;
	char		 err[512];
	int		 changed = 0;
	enum store_rc	 rc;

	rc = connection_rekey(w->c->db, ws, w->v, &changed, err, sizeof(err));
	if (rc == STORE_OK) {
		w->tokens += changed;
		w->n++;
		printf("workspace %s (id %" PRIu64 "): re-encrypted %d "
		    "token(s)\n", ws->slug, ws->id, changed);
		return 0;
	}
	w->failed++;
	fail("workspace %s (id %" PRIu64 "): tokens not re-encrypted: %s",
	    ws->slug, ws->id, err);
	return rc == STORE_GONE;
}

/*
 * Brings every token to the ring's current version, one transaction per
 * workspace (connection_rekey), so an interruption loses nothing and a
 * re-run only does what is left.
 */
static int
rekey_all(struct ctx *c)
{
	struct walk	 w = { .c = c };
	char		 err[512];
	enum store_rc	 rc;

	if ((w.v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return fail("%s", err);
	w.ver = vault_current_version(w.v);
	rc = tenants_workspace_each(c->db, rekey_one, &w);
	vault_close(w.v);
	if (rc != STORE_OK)
		return store_fail(rc, "listing workspaces");
	if (w.failed)
		return fail("%d workspace(s) still have tokens that are not on "
		    "key version %" PRIu32 "; once fixed, run `" PROG " keys "
		    "rotate` again: it finishes this rotation without adding "
		    "another key", w.failed, w.ver);
	printf("re-encrypted %d token(s) in %d workspace(s); every token is on "
	    "key version %" PRIu32 "\n", w.tokens, w.n, w.ver);
	return 0;
}

static int
cmd_keys_rekey(struct ctx *c)
{
	if (need_db(c, 1) == -1)
		return EX_FAIL;
	return rekey_all(c);
}

/* Finds the oldest and newest key version any workspace's tokens use. */
static int
span_one(const struct workspace *ws, void *arg)
{
	struct walk	*w = arg;
	uint32_t	 lo, hi;

	if ((w->rc = connection_version_span(w->c->db, ws, &lo, &hi)) !=
	    STORE_OK)
		return 1;
	if (hi == 0)
		return 0;
	if (w->lo == 0 || lo < w->lo)
		w->lo = lo;
	if (hi > w->hi) {
		w->hi = hi;
		w->hit = *ws;
	}
	return 0;
}

/*
 * Rows record their key version, so the database itself says whether a
 * rotation is unfinished: a token older than the ring's newest key means
 * the last rotation stopped (interrupted, or a workspace failed) after
 * adding its key. Then this run finishes it with that key instead of
 * adding another, so re-running `keys rotate` is always safe. A token
 * newer than the ring's newest key means the ring is not the one the
 * tokens were written with (an old backup?): adding a key would reuse
 * that version number for a different key, so nothing is done.
 */
static int
cmd_keys_rotate(struct ctx *c)
{
	struct walk	 w = { .c = c };
	struct vault	*v;
	char		 err[512];
	uint32_t	 cur;
	enum store_rc	 rc;

	if (need_db(c, 1) == -1)
		return EX_FAIL;
	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return fail("%s", err);
	cur = vault_current_version(v);
	vault_close(v);
	w.rc = STORE_OK;
	if ((rc = tenants_workspace_each(c->db, span_one, &w)) != STORE_OK ||
	    (rc = w.rc) != STORE_OK)
		return store_fail(rc, "reading the key versions in use");
	if (w.hi > cur)
		return fail("workspace %s (id %" PRIu64 ") has tokens on key "
		    "version %" PRIu32 ", newer than the newest key in %s "
		    "(%" PRIu32 "): that is not the key ring they were stored "
		    "with; nothing was changed", w.hit.slug, w.hit.id, w.hi,
		    c->cfg->key_ring_file, cur);
	if (w.lo != 0 && w.lo < cur)
		printf("tokens on key version %" PRIu32 " are left from an "
		    "unfinished rotation: finishing the rotation to version %"
		    PRIu32 " (no key added)\n", w.lo, cur);
	else {
		if (vault_ring_add(c->cfg->key_ring_file, &cur, err,
		    sizeof(err)) == -1)
			return fail("%s", err);
		printf("added key version %" PRIu32 " to %s; re-encrypting "
		    "tokens (if this is interrupted or a workspace fails, run "
		    "`" PROG " keys rotate` again: it finishes the rotation "
		    "without adding another key, as `keys rekey` does)\n", cur,
		    c->cfg->key_ring_file);
	}
	/* Workers stat the ring before they encrypt (vault_refresh). */
	return rekey_all(c);
}

static int
drop_check(const struct workspace *ws, void *arg)
{
	struct walk	*w = arg;
	int		 used = 0;

	if ((w->rc = connection_version_used(w->c->db, ws, w->ver,
	    &used)) != STORE_OK)
		return 1;
	if (used)
		w->hit = *ws;
	return used;
}

static int
cmd_keys_drop(struct ctx *c)
{
	struct walk	 w = { .c = c };
	struct vault	*v;
	const char	*s = c->argv[0];
	char		 err[512];
	uint32_t	 cur;
	int		 has;
	enum store_rc	 rc;

	if (strspn(s, "0123456789") != strlen(s) || strlen(s) > 5 ||
	    (w.ver = (uint32_t)strtoul(s, NULL, 10)) < 1 || w.ver > 65535)
		return fail("bad key version: give a number from 1 to 65535");
	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return fail("%s", err);
	cur = vault_current_version(v);
	has = vault_has_version(v, w.ver);
	vault_close(v);
	if (!has)
		return fail("key version %" PRIu32 " is not in the key ring %s",
		    w.ver, c->cfg->key_ring_file);
	if (w.ver == cur)
		return fail("key version %" PRIu32 " is the current key and "
		    "cannot be dropped; `" PROG " keys rotate` first", w.ver);
	if (need_db(c, 1) == -1)
		return EX_FAIL;
	w.rc = STORE_OK;
	if ((rc = tenants_workspace_each(c->db, drop_check, &w)) != STORE_OK ||
	    (rc = w.rc) != STORE_OK)
		return store_fail(rc, "checking key versions in use");
	if (w.hit.id != 0)
		return fail("key version %" PRIu32 " still encrypts tokens of "
		    "workspace %s (id %" PRIu64 "): run `" PROG " keys rotate` "
		    "first, which finishes the unfinished rotation", w.ver,
		    w.hit.slug, w.hit.id);
	if (vault_ring_drop(c->cfg->key_ring_file, w.ver, err, sizeof(err)) ==
	    -1)
		return fail("%s", err);
	printf("dropped key version %" PRIu32 " from %s\n", w.ver,
	    c->cfg->key_ring_file);
	return 0;
}

static int
cmd_keys_list(struct ctx *c)
{
	struct vault	*v;
	char		 err[512];
	uint32_t	 ver, cur;

	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return fail("%s", err);
	cur = vault_current_version(v);
	for (ver = 1; ver <= cur; ver++)
		if (vault_has_version(v, ver))
			printf("%" PRIu32 "%s\n", ver, ver == cur ?
			    " (current)" : "");
	vault_close(v);
	return 0;
}

/* ---- status ---------------------------------------------------------- */

static int
status_json(const struct workspace *ws, const struct conn_row *r,
    const char *last, long long day)
{
	json_object	*o, *k;
	char		 t1[24], t2[24];
	int		 ret;

	o = json_object_new_object();
	k = json_object_new_object();
	if (o == NULL || k == NULL) {
		json_object_put(o);
		json_object_put(k);
		return fail("out of memory");
	}
	json_object_object_add(o, "workspace", jstr(ws->slug));
	json_object_object_add(o, "status", jstr(r->status));
	json_object_object_add(o, "reason", jstr(r->reason));
	json_object_object_add(o, "waba_id", jstr(r->waba_id));
	json_object_object_add(o, "phone_number_id", jstr(r->phone_number_id));
	json_object_object_add(o, "display_phone_number",
	    jstr(r->display_phone_number));
	json_object_object_add(o, "token_expires_at",
	    jstr(iso_utc(r->token_expires_at, t1)));
	json_object_object_add(k, "catalog_id",
	    jstr(r->has_catalog ? r->catalog_id : NULL));
	json_object_object_add(k, "status",
	    jstr(r->has_catalog ? r->catalog_status : "not_connected"));
	json_object_object_add(o, "catalog", k);
	json_object_object_add(o, "last_webhook_at", jstr(iso_utc(last, t2)));
	json_object_object_add(o, "webhook_events",
	    json_object_new_int64(day));
	ret = print_json(o);
	json_object_put(o);
	return ret;
}

static const char *
dash(const char *s)
{
	return *s ? s : "-";
}

static void
status_text(const struct workspace *ws, const struct conn_row *r,
    const char *last, long long day)
{
	printf("workspace       %s (%s)\n", ws->slug, ws->name);
	printf("status          %s\n", r->status);
	printf("reason          %s\n", dash(r->reason));
	printf("WABA            %s\n", dash(r->waba_id));
	if (r->phone_number_id[0])
		printf("phone number    %s (id %s)\n",
		    dash(r->display_phone_number), r->phone_number_id);
	else
		printf("phone number    -\n");
	if (!r->has_token)
		printf("token           none\n");
	else
		printf("token           key version %" PRIu32 ", expires "
		    "%s%s\n", r->key_version, r->token_expires_at[0] ?
		    r->token_expires_at : "never (or unknown)",
		    r->token_expires_at[0] ? " UTC" : "");
	if (r->has_catalog)
		printf("catalog         %s (%s)\n", r->catalog_id,
		    r->catalog_status);
	else
		printf("catalog         not connected\n");
	printf("last webhook    %s%s\n", *last ? last : "never",
	    *last ? " UTC" : "");
	printf("webhook events  %lld in the last 24 hours\n", day);
}

static int
cmd_status(struct ctx *c)
{
	struct workspace ws;
	struct conn_row	 r;
	char		 last[32];
	long		 day;
	enum store_rc	 rc;
	int		 ret;

	if ((ret = find_workspace(c, c->argv[0], &ws)) != 0)
		return ret;
	if ((rc = connection_get(c->db, &ws, &r)) != STORE_OK)
		return store_fail(rc, "reading the connection");
	if ((rc = webhooks_health(c->db, &ws, last, &day)) != STORE_OK)
		return store_fail(rc, "reading webhook events");
	if (c->json)
		return status_json(&ws, &r, last, day);
	status_text(&ws, &r, last, day);
	return 0;
}

/* ---- token ----------------------------------------------------------- */

static int
cmd_token_set(struct ctx *c)
{
	const char	*kind = c->argv[1], *cid = c->catalog_id;
	struct workspace ws;
	struct vault	*v = NULL;
	struct vault_box box;
	char		 err[512], *tok = NULL;
	long		 len, i;
	enum store_rc	 rc;
	int		 ret = EX_FAIL, catalog, enc;

	memset(&box, 0, sizeof(box));
	catalog = strcmp(kind, VAULT_KIND_CATALOG) == 0;
	if (!catalog && strcmp(kind, VAULT_KIND_WABA) != 0)
		return misuse("token", "token kind must be waba or catalog");
	if (catalog && cid == NULL)
		return misuse("token", "a catalog token needs --catalog-id ID");
	if (!catalog && cid != NULL)
		return misuse("token", "--catalog-id is only for catalog tokens");
	if (cid && (*cid == '\0' || strlen(cid) > 32 ||
	    strspn(cid, "0123456789") != strlen(cid)))
		return fail("bad catalog id: 1 to 32 digits");
	if ((ret = find_workspace(c, c->argv[0], &ws)) != 0)
		return ret;
	ret = EX_FAIL;
	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL) {
		fail("%s", err);
		goto out;
	}
	if ((len = read_secret("token", 1, 4096, &tok)) == -1)
		goto out;
	for (i = 0; i < len; i++)
		if (tok[i] < 0x21 || tok[i] > 0x7e) {
			fail("the token must be printable ASCII without spaces");
			goto out;
		}
	enc = vault_encrypt(v, ws.id, kind, tok, (size_t)len, &box, err,
	    sizeof(err));
	secret_free(tok, 4097);
	tok = NULL;
	if (enc == -1) {
		fail("%s", err);
		goto out;
	}
	rc = connection_token_put(c->db, &ws, kind, &box, cid, "admin");
	if (rc != STORE_OK) {
		store_fail(rc, "storing the token");
		goto out;
	}
	printf("stored the %s token for workspace %s (key version %" PRIu32
	    "); the next Verify on the settings page checks it with Meta\n",
	    catalog ? "catalog" : "WABA", ws.slug, box.key_version);
	ret = 0;
out:
	secret_free(tok, 4097);
	vault_box_free(&box);
	vault_close(v);
	return ret;
}

/* ---- the command table and main ------------------------------------- */

static const struct command {
	const char	*name, *sub;
	int		 nargs;	/* operands, exactly */
	int		 opts;	/* OPT_* */
	int		(*fn)(struct ctx *);
	const char	*args, *what;
} commands[] = {
	{ "migrate", NULL, 0, 0, cmd_migrate, "",
	    "create or upgrade the control and workspace DBs" },
	{ "workspace", "add", 2, OPT_SERVER, cmd_workspace_add,
	    "SLUG NAME [--db-host HOST [--db-port N] | --db-socket PATH]",
	    "create a workspace and its database (on another server)" },
	{ "workspace", "list", 0, OPT_JSON, cmd_workspace_list, "[--json]",
	    "list workspaces" },
	{ "user", "add", 2, 0, cmd_user_add, "SLUG EMAIL",
	    "add a user (password on stdin, 12+ characters)" },
	{ "keys", "init", 0, 0, cmd_keys_init, "", "create the key ring" },
	{ "keys", "rotate", 0, 0, cmd_keys_rotate, "",
	    "add a key, re-encrypt every token with it" },
	{ "keys", "rekey", 0, 0, cmd_keys_rekey, "",
	    "re-encrypt tokens on older keys, add no key" },
	{ "keys", "drop", 1, 0, cmd_keys_drop, "VERSION",
	    "remove a key no token uses any more" },
	{ "keys", "list", 0, 0, cmd_keys_list, "", "list key versions" },
	{ "status", NULL, 1, OPT_JSON, cmd_status, "SLUG [--json]",
	    "a workspace's WhatsApp connection" },
	{ "token", "set", 2, OPT_CATALOG, cmd_token_set,
	    "SLUG waba|catalog [--catalog-id ID]",
	    "store a token read from stdin" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* All commands, or those named group, one line each. */
static void
usage(FILE *f, const char *group, int help)
{
	char	 line[128];
	size_t	 i;

	fprintf(f, "usage: " PROG " [--config FILE] COMMAND ...\n");
	for (i = 0; i < NCOMMANDS; i++) {
		if (group && strcmp(group, commands[i].name) != 0)
			continue;
		snprintf(line, sizeof(line), "%s%s%s%s%s", commands[i].name,
		    commands[i].sub ? " " : "", commands[i].sub ?
		    commands[i].sub : "", *commands[i].args ? " " : "",
		    commands[i].args);
		if (help && strlen(line) > 28)
			fprintf(f, "  %s\n  %-28s  %s\n", line, "",
			    commands[i].what);
		else if (help)
			fprintf(f, "  %-28s  %s\n", line, commands[i].what);
		else
			fprintf(f, "       " PROG " %s\n", line);
	}
	if (help)
		fprintf(f, "\n  --config FILE   configuration (default: "
		    "$WABA_CONNECT_CONFIG)\n  --help, --version\n\n"
		    "An interrupted or failed `keys rotate` is finished by "
		    "running it again:\nit then adds no key. Exit status: 0 ok, "
		    "1 failure, 2 bad usage.\nSee waba-connect-admin(8).\n");
}

/*
 * Finds the command argv names and separates its options from its
 * operands (in place: operands only move left). NULL after a usage
 * message when nothing fits.
 */
static const struct command *
parse_command(int argc, char **argv, struct ctx *c)
{
	const struct command *cmd = NULL;
	const char	*a;
	size_t		 i;
	int		 k, skip, n = 0, group = 0, dashdash = 0;

	for (i = 0; argc > 0 && cmd == NULL && i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, argv[0]) != 0)
			continue;
		group = 1;
		if (commands[i].sub == NULL || (argc > 1 &&
		    strcmp(commands[i].sub, argv[1]) == 0))
			cmd = &commands[i];
	}
	if (cmd == NULL) {
		if (argc > 0 && !group)
			fprintf(stderr, PROG ": unknown command \"%s\"\n",
			    argv[0]);
		usage(stderr, group ? argv[0] : NULL, 0);
		return NULL;
	}
	skip = cmd->sub ? 2 : 1;
	c->argv = argv + skip;
	for (k = skip; k < argc; k++) {
		a = argv[k];
		if (dashdash || a[0] != '-' || a[1] == '\0')
			c->argv[n++] = argv[k];
		else if (strcmp(a, "--") == 0)
			dashdash = 1;
		else if ((cmd->opts & OPT_JSON) && strcmp(a, "--json") == 0)
			c->json = 1;
		else if ((cmd->opts & OPT_CATALOG) &&
		    strcmp(a, "--catalog-id") == 0 && k + 1 < argc)
			c->catalog_id = argv[++k];
		else if ((cmd->opts & OPT_CATALOG) &&
		    strncmp(a, "--catalog-id=", 13) == 0)
			c->catalog_id = a + 13;
		else if ((cmd->opts & OPT_SERVER) && k + 1 < argc &&
		    strcmp(a, "--db-host") == 0)
			c->db_host = argv[++k];
		else if ((cmd->opts & OPT_SERVER) && k + 1 < argc &&
		    strcmp(a, "--db-port") == 0)
			c->db_port = argv[++k];
		else if ((cmd->opts & OPT_SERVER) && k + 1 < argc &&
		    strcmp(a, "--db-socket") == 0)
			c->db_socket = argv[++k];
		else {
			fprintf(stderr, PROG ": %s: unknown option \"%s\"\n",
			    cmd->name, a);
			usage(stderr, cmd->name, 0);
			return NULL;
		}
	}
	c->argc = n;
	if (n != cmd->nargs) {
		usage(stderr, cmd->name, 0);
		return NULL;
	}
	return cmd;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct command *cmd;
	struct ctx	 c;
	const char	*path = getenv("WABA_CONNECT_CONFIG");
	char		 err[512];
	int		 ch, ret;

	/* "+": options stop at the command, whose own come after it. */
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout, NULL, 1);
			return 0;
		case 'V':
			printf(PROG " %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr, NULL, 0);
			return EX_USAGE;
		}
	}
	memset(&c, 0, sizeof(c));
	if ((cmd = parse_command(argc - optind, argv + optind, &c)) == NULL)
		return EX_USAGE;
	if (path == NULL || *path == '\0') {
		fail("no configuration: give --config FILE or set "
		    "WABA_CONNECT_CONFIG");
		return EX_USAGE;
	}
	/* Progress lines reach a pipe as they happen. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (vault_sodium_init() == -1)
		return fail("libsodium initialisation failed");
	if ((c.cfg = config_load(path, err, sizeof(err))) == NULL)
		return fail("%s", err);
	log_init(PROG, LOG_LVL_WARN);
	if ((c.db = db_new(c.cfg)) == NULL)
		ret = fail("out of memory");
	else
		ret = cmd->fn(&c);
	db_free(c.db);
	config_free(c.cfg);
	return ret;
}
