/*
 * waba-connect-admin: the operator's tool (doc/contract.md, Admin
 * commands). It reuses the services the workers use (config, db, store,
 * vault) and adds only argument checks and output. A table maps "NAME
 * [SUB]" to a function; each checks its operands before it touches the
 * database, so a typo never leaves half a change behind. This file holds
 * main, the table and the helpers the commands share (admin.h); the
 * commands live in admin_workspace.c, admin_keys.c, admin_status.c,
 * admin_prune.c, admin_apikeys.c, admin_monitor.c and admin_doctor.c.
 *
 * Exit status: 0 ok, 1 failure (one line on stderr), 2 bad usage.
 * Passwords and tokens are read from standard input with read(2) into
 * sodium_malloc'd memory (stdio would keep copies in its buffers), never
 * echoed, and wiped as soon as they are hashed or encrypted.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "admin.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "request.h"
#include "input.h" /* router_slug_valid */
#include "store/workspaces.h"
#include "vault.h"
#include "store/migrate.h"
#include "store/sql.h"

#define OPT_JSON      0x1  /* the command takes --json */
#define OPT_CATALOG   0x2  /* the command takes --catalog-id ID */
#define OPT_SERVER    0x4  /* --db-host HOST [--db-port N] | --db-socket P */
#define OPT_WORKSPACE 0x8  /* --workspace SLUG */
#define OPT_APIKEY    0x10 /* --scopes S[,S...] [--workspace SLUG]... */
#define OPT_ONCE      0x20 /* --once */

static void usage(FILE *, const char *, int);

int
admin_fail(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EX_FAIL;
}

/* A mistake in the arguments found by a command itself. */
int
admin_misuse(const char *group, const char *why)
{
	admin_fail("%s", why);
	usage(stderr, group, 0);
	return EX_USAGE;
}

/* The store has already logged the details (log_err) above this line. */
int
admin_store_fail(enum store_rc rc, const char *what)
{
	if (rc == STORE_GONE)
		return admin_fail("%s: the database server cannot be reached",
		    what);
	return admin_fail("%s: database error", what);
}

/*
 * Connects, and with schema checks that the control database carries
 * this program's schema: on a fresh server a command then says what to
 * do instead of failing on a missing table.
 */
int
admin_need_db(struct ctx *c, int schema)
{
	char          err[512];
	int           have;
	enum store_rc rc;

	if (db_ping(c->db, err, sizeof(err)) == -1) {
		admin_fail("cannot reach the database: %s", err);
		return -1;
	}
	if (!schema)
		return 0;
	if ((rc = store_mig_control_version(c->db, &have)) != STORE_OK) {
		admin_store_fail(rc, "checking the control database");
		return -1;
	}
	if (have < store_mig_control_latest()) {
		admin_fail("the control database %s is not migrated: run `" PROG
		           " migrate` first",
		    c->cfg->control_db);
		return -1;
	}
	return 0;
}

/* Looks the workspace up, saying why when there is none. */
int
admin_find_workspace(struct ctx *c, const char *slug, struct workspace *ws)
{
	enum store_rc rc;

	if (!router_slug_valid(slug, strlen(slug)))
		return admin_fail("bad workspace slug: use 1 to 63 of a-z, 0-9 "
		                  "and -");
	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	if ((rc = store_ws_by_slug(c->db, slug, ws)) == STORE_NOTFOUND)
		return admin_fail("no workspace %s", slug);
	if (rc != STORE_OK)
		return admin_store_fail(rc, "looking up the workspace");
	return 0;
}

/* Code points of valid UTF-8: what a person calls characters. */
size_t
admin_utf8_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/*
 * Reads the first line of standard input (newline stripped) into
 * sodium_malloc'd *out, which the caller wipes and frees with
 * admin_secret_free(). At a terminal it prompts on stderr with echo off.
 * It must be UTF-8 (the sign-in form accepts nothing else) of at least
 * min characters and at most max bytes. Returns the length in bytes,
 * or -1 after saying why.
 */
long
admin_read_secret(const char *what, size_t min, size_t max, char **out)
{
	struct termios old, quiet;
	char          *s, ch;
	size_t         len = 0;
	ssize_t        n;
	int            tty, e = 0, over = 0;

	if ((*out = s = sodium_malloc(max + 1)) == NULL) {
		admin_fail("out of memory");
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
		admin_fail("reading the %s: %s", what, strerror(e));
	else if (over)
		admin_fail("the %s is longer than %zu bytes", what, max);
	else if (len == 0)
		admin_fail("no %s: give it as the first line of standard input",
		    what);
	else if (!req_utf8_valid(s, len))
		admin_fail("the %s is not valid UTF-8 text", what);
	else if (admin_utf8_chars(s, len) < min)
		admin_fail("the %s is too short: %zu characters, it needs at "
		           "least %zu characters",
		    what, admin_utf8_chars(s, len), min);
	else
		return (long)len;
	return -1;
}

void
admin_secret_free(char *s, size_t cap)
{
	if (s == NULL)
		return;
	sodium_memzero(s, cap);
	sodium_free(s);
}

/* JSON null for what the store leaves empty. */
json_object *
admin_jstr(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

int
admin_print_json(json_object *o)
{
	const char *s;

	if ((s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	    NULL)
		return admin_fail("out of memory");
	printf("%s\n", s);
	return 0;
}

/* ---- the command table and main ------------------------------------- */

static const struct command {
	const char *name, *sub;
	int         nargs; /* operands, exactly */
	int         opts;  /* OPT_* */
	int (*fn)(struct ctx *);
	const char *args, *what;
} commands[] = {
	{ "migrate", NULL, 0, 0, admin_migrate, "",
	    "create or upgrade the control and workspace DBs" },
	{ "workspace", "add", 2, OPT_SERVER, admin_workspace_add,
	    "SLUG NAME [--db-host HOST [--db-port N] | --db-socket PATH]",
	    "create a workspace and its database (on another server)" },
	{ "workspace", "list", 0, OPT_JSON, admin_workspace_list, "[--json]",
	    "list workspaces" },
	{ "user", "add", 2, 0, admin_user_add, "SLUG EMAIL",
	    "add a user (password on stdin, 12+ characters)" },
	{ "keys", "init", 0, 0, admin_keys_init, "", "create the key ring" },
	{ "keys", "add", 0, 0, admin_keys_add, "",
	    "add a key, re-encrypt nothing (then keys rekey)" },
	{ "keys", "rotate", 0, 0, admin_keys_rotate, "",
	    "add a key, re-encrypt every token with it" },
	{ "keys", "rekey", 0, 0, admin_keys_rekey, "",
	    "re-encrypt tokens on older keys, add no key" },
	{ "keys", "drop", 1, 0, admin_keys_drop, "VERSION",
	    "remove a key no token uses any more" },
	{ "keys", "list", 0, 0, admin_keys_list, "", "list key versions" },
	{ "status", NULL, 1, OPT_JSON, admin_status, "SLUG [--json]",
	    "a workspace's WhatsApp connection" },
	{ "prune", NULL, 0, OPT_WORKSPACE, admin_prune, "[--workspace SLUG]",
	    "delete webhook events older than [webhooks] retention_days" },
	{ "monitor", NULL, 0, OPT_ONCE | OPT_WORKSPACE, admin_monitor,
	    "[--once] [--workspace SLUG]",
	    "check connections with Meta (one pass with --once)" },
	{ "health", NULL, 0, OPT_JSON, admin_health, "[--json]",
	    "workspaces with a problem now (exit 1 when any)" },
	{ "doctor", NULL, 0, 0, admin_doctor, "",
	    "check the installation, one line per check (exit 1 on a failure)" },
	{ "token", "set", 2, OPT_CATALOG, admin_token_set,
	    "SLUG waba|catalog [--catalog-id ID]",
	    "store a token read from stdin" },
	{ "api-key", "add", 1, OPT_APIKEY, admin_apikey_add,
	    "NAME --scopes S[,S...] [--workspace SLUG]...",
	    "make an internal API key (printed once)" },
	{ "api-key", "list", 0, OPT_JSON, admin_apikey_list, "[--json]",
	    "list API keys (never the key itself)" },
	{ "api-key", "revoke", 1, 0, admin_apikey_revoke, "NAME",
	    "end an API key (waits out [api] gate_lease_ms)" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* All commands, or those named group, one line each. */
static void
usage(FILE *f, const char *group, int help)
{
	char   line[128];
	size_t i;

	fprintf(f, "usage: " PROG " [--config FILE] COMMAND ...\n");
	for (i = 0; i < NCOMMANDS; i++) {
		if (group && strcmp(group, commands[i].name) != 0)
			continue;
		snprintf(line, sizeof(line), "%s%s%s%s%s", commands[i].name,
		    commands[i].sub ? " " : "",
		    commands[i].sub ? commands[i].sub : "",
		    *commands[i].args ? " " : "", commands[i].args);
		if (help && strlen(line) > 28)
			fprintf(f, "  %s\n  %-28s  %s\n", line, "",
			    commands[i].what);
		else if (help)
			fprintf(f, "  %-28s  %s\n", line, commands[i].what);
		else
			fprintf(f, "       " PROG " %s\n", line);
	}
	if (help)
		fprintf(f,
		    "\n  --config FILE   configuration (default: "
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
	const char           *a;
	size_t                i;
	int                   k, skip, n = 0, group = 0, dashdash = 0;

	for (i = 0; argc > 0 && cmd == NULL && i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, argv[0]) != 0)
			continue;
		group = 1;
		if (commands[i].sub == NULL ||
		    (argc > 1 && strcmp(commands[i].sub, argv[1]) == 0))
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
		else if ((cmd->opts & OPT_ONCE) && strcmp(a, "--once") == 0)
			c->once = 1;
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
		else if ((cmd->opts & OPT_WORKSPACE) && k + 1 < argc &&
		    strcmp(a, "--workspace") == 0)
			c->workspace = argv[++k];
		else if ((cmd->opts & OPT_APIKEY) && k + 1 < argc &&
		    strcmp(a, "--scopes") == 0)
			c->scopes = argv[++k];
		else if ((cmd->opts & OPT_APIKEY) && k + 1 < argc &&
		    strcmp(a, "--workspace") == 0 &&
		    c->nworkspaces < ADMIN_MAX_WORKSPACES)
			c->workspaces[c->nworkspaces++] = argv[++k];
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
	static const struct option opts[] = { { "config", required_argument,
		                                  NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 } };
	const struct command      *cmd;
	struct ctx                 c;
	const char                *path = getenv("WABA_CONNECT_CONFIG");
	char                       err[512];
	int                        ch, ret;

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
		admin_fail("no configuration: give --config FILE or set "
		           "WABA_CONNECT_CONFIG");
		return EX_USAGE;
	}
	/* Progress lines reach a pipe as they happen. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (vault_sodium_init() == -1)
		return admin_fail("libsodium initialisation failed");
	c.config_path = path;
	if ((c.cfg = config_load(path, err, sizeof(err))) == NULL)
		return admin_fail("%s", err);
	log_init(PROG, LOG_LVL_WARN);
	log_set_format(c.cfg->log_json);
	if ((c.db = db_new(c.cfg)) == NULL)
		ret = admin_fail("out of memory");
	else
		ret = cmd->fn(&c);
	db_free(c.db);
	config_free(c.cfg);
	return ret;
}
