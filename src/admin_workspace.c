/*
 * waba-connect-admin: migrate, workspace add|list and user add, the
 * commands that change which workspaces and users exist (the control
 * database's tenants) and bring their databases to this program's schema.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "admin.h"
#include "hostlist.h"
#include "db.h"
#include "request.h"
#include "input.h" /* router_slug_valid */
#include "store/migrate.h"
#include "store/sql.h"
#include "store/users.h"
#include "store/workspaces.h"

/* Characters (code points), not bytes: "é" is one character, as people count. */
#define PASSWORD_MIN_CHARS 12
/* The sign-in form's limit (handlers/auth.c), in bytes. */
#define PASSWORD_MAX_BYTES 1024

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
	struct walk  *w = arg;
	enum store_rc rc;

	if ((rc = store_mig_workspace(w->c->db, ws, report_line, NULL)) ==
	    STORE_OK)
		return 0;
	w->failed++;
	admin_fail("workspace %s: migration of %s failed", ws->slug,
	    ws->db_name);
	return rc == STORE_GONE; /* the others would fail the same way */
}

int
admin_migrate(struct ctx *c)
{
	struct walk   w = { .c = c };
	enum store_rc rc;

	if (admin_need_db(c, 0) == -1)
		return EX_FAIL;
	if ((rc = store_mig_control(c->db, report_line, NULL)) != STORE_OK)
		return admin_store_fail(rc, "migrating the control database");
	if ((rc = store_ws_each(c->db, migrate_one, &w)) != STORE_OK)
		return admin_store_fail(rc, "listing workspaces");
	if (w.failed)
		return admin_fail("%d workspace database(s) not migrated",
		    w.failed);
	return 0;
}

/* ---- workspace ------------------------------------------------------- */

/* 1..200 bytes of UTF-8, not blank, no C0 or C1 control characters. */
static int
name_valid(const char *s)
{
	size_t len = strlen(s), i;
	int    blank = 1;

	if (len < 1 || len > 200 || !req_utf8_valid(s, len))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f ||
		    (ch == 0xc2 &&
		        (unsigned char)s[i + 1] < 0xa0)) /* U+0080..U+009F */
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
	const char    *h = c->db_host, *s = c->db_socket;
	char          *end, why[128];
	long           port;
	size_t         i;
	struct hl_host hosts[HL_MAX];

	memset(srv, 0, sizeof(*srv));
	if (h && s)
		return admin_misuse("workspace",
		    "give --db-host or "
		    "--db-socket, not both");
	if (c->db_port && !h)
		return admin_misuse("workspace",
		    "--db-port goes with "
		    "--db-host");
	if (h) {
		/* Several, comma-separated: the nodes of one server (a cluster's). */
		if (strlen(h) >= sizeof(srv->host) ||
		    hl_parse(h, 3306, hosts, HL_MAX, why, sizeof(why)) < 0)
			return admin_fail(
			    "bad --db-host: a host name or "
			    "address, or several, comma-separated");
		snprintf(srv->host, sizeof(srv->host), "%s", h);
	}
	if (c->db_port) {
		errno = 0;
		port = strtol(c->db_port, &end, 10);
		if (errno || end == c->db_port || *end || port < 1 ||
		    port > 65535)
			return admin_fail("bad --db-port: a number from 1 to "
			                  "65535");
		srv->port = (unsigned int)port;
	}
	if (s) {
		if (*s != '/' || strlen(s) >= sizeof(srv->socket))
			return admin_fail("bad --db-socket: an absolute path");
		for (i = 0; s[i]; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return admin_fail("bad --db-socket: an "
				                  "absolute path");
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

int
admin_workspace_add(struct ctx *c)
{
	const char      *slug = c->argv[0], *name = c->argv[1];
	struct workspace ws;
	struct db_server srv;
	char             where[300];
	int              rc;

	if ((rc = server_opts(c, &srv)) != 0)
		return rc;
	if (!router_slug_valid(slug, strlen(slug)))
		return admin_fail("bad workspace slug: use 1 to 63 of a-z, 0-9 "
		                  "and -");
	if (!name_valid(name))
		return admin_fail("bad workspace name: give 1 to 200 bytes of "
		                  "UTF-8 text without control characters");
	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	/* A server we cannot reach must not leave a workspace behind. */
	if ((srv.host[0] || srv.socket[0]) &&
	    db_conn(c->db, &srv, where, sizeof(where)) == NULL)
		return admin_fail("cannot reach the workspace's database "
		                  "server: %s",
		    where);
	if ((rc = store_ws_add(c->db, slug, name, &srv, &ws)) == STORE_DUP)
		return admin_fail("workspace %s already exists", slug);
	if (rc != STORE_OK)
		return admin_store_fail(rc, "adding the workspace");
	if (store_mig_workspace(c->db, &ws, NULL, NULL) != STORE_OK)
		return admin_fail("workspace %s (id %" PRIu64 ") was added but "
		                  "its database %s was not created: run `" PROG
		                  " migrate`",
		    ws.slug, ws.id, ws.db_name);
	server_name(&ws.srv, where, sizeof(where));
	printf("created workspace %s \"%s\" (id %" PRIu64 ", database %s%s%s)"
	       "\n",
	    ws.slug, ws.name, ws.id, ws.db_name, *where ? " on " : "", where);
	return 0;
}

static int
list_one(const struct workspace *ws, void *arg)
{
	struct walk      *w = arg;
	struct workspace *n;
	char              where[300];

	if (w->arr) {
		json_object *o;

		if ((o = json_object_new_object()) == NULL)
			return w->failed = 1;
		json_object_object_add(o, "id",
		    json_object_new_int64((int64_t)ws->id));
		json_object_object_add(o, "slug", admin_jstr(ws->slug));
		json_object_object_add(o, "name", admin_jstr(ws->name));
		json_object_object_add(o, "database", admin_jstr(ws->db_name));
		server_name(&ws->srv, where, sizeof(where));
		/* null: the control DB's server. */
		json_object_object_add(o, "server",
		    *where ? admin_jstr(where) : NULL);
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
	return (int)admin_utf8_chars(s, strlen(s));
}

int
admin_workspace_list(struct ctx *c)
{
	struct walk   w = { .c = c };
	enum store_rc rc;
	char          where[300];
	int           i, wslug = 4, wname = 4;

	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	if (c->json && (w.arr = json_object_new_array()) == NULL)
		return admin_fail("out of memory");
	if ((rc = store_ws_each(c->db, list_one, &w)) == STORE_OK && w.failed)
		rc = STORE_ERR; /* out of memory: no half a list */
	if (rc == STORE_OK && c->json && admin_print_json(w.arr) != 0)
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
	return rc == STORE_OK ? 0 : admin_store_fail(rc, "listing workspaces");
}

/* ---- user ------------------------------------------------------------ */

/* Checks in and lowercases into out, as the sign-in form does. */
static int
email_norm(const char *in, char out[255])
{
	size_t len = strlen(in), i, at = 0, nat = 0;

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

int
admin_user_add(struct ctx *c)
{
	struct workspace ws;
	struct user      u;
	char             email[255], hash[crypto_pwhash_STRBYTES], *pw = NULL;
	long             len;
	uint64_t         id;
	enum store_rc    rc;
	int              ret;

	if (email_norm(c->argv[1], email) == -1)
		return admin_fail("bad email address: 3 to 254 bytes, one @, "
		                  "no spaces");
	if ((ret = admin_find_workspace(c, c->argv[0], &ws)) != 0)
		return ret;
	rc = store_user_by_email(c->db, email, &u, NULL, 0);
	if (rc == STORE_OK) {
		if ((rc = store_user_member_add(c->db, u.id, ws.id)) !=
		    STORE_OK)
			return admin_store_fail(rc, "adding the membership");
		printf("added existing user %s to workspace %s (password "
		       "unchanged)\n",
		    email, ws.slug);
		return 0;
	}
	if (rc != STORE_NOTFOUND)
		return admin_store_fail(rc, "looking up the user");
	if ((len = admin_read_secret("password", PASSWORD_MIN_CHARS,
	         PASSWORD_MAX_BYTES, &pw)) == -1)
		goto fail;
	/* argon2id, as the sign-in check (crypto_pwhash_str_verify) expects. */
	ret = crypto_pwhash_str_alg(hash, pw, (unsigned long long)len,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13);
	admin_secret_free(pw, PASSWORD_MAX_BYTES + 1);
	pw = NULL;
	if (ret != 0) {
		admin_fail("hashing the password: out of memory");
		goto fail;
	}
	if ((rc = store_user_add(c->db, email, hash, &id)) == STORE_DUP) {
		admin_fail("user %s was created meanwhile: run the command "
		           "again",
		    email);
		goto fail;
	}
	if (rc != STORE_OK) {
		admin_store_fail(rc, "adding the user");
		goto fail;
	}
	if ((rc = store_user_member_add(c->db, id, ws.id)) != STORE_OK) {
		admin_store_fail(rc,
		    "adding the membership (run the command "
		    "again)");
		goto fail;
	}
	printf("created user %s (id %" PRIu64 ") in workspace %s\n", email, id,
	    ws.slug);
	return 0;
fail:
	admin_secret_free(pw, PASSWORD_MAX_BYTES + 1);
	return EX_FAIL;
}
