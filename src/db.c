/*
 * db: a worker's MySQL connections and their prepared statements, so
 * that the store never opens, pings or re-prepares anything itself. A
 * lost server is noticed here (no MYSQL_OPT_RECONNECT, whose silent
 * reconnects lose session state): the first use in a request pings, and
 * a dead connection is reopened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>

#include "config.h"
#include "db.h"
#include "log.h"

/*
 * Servers a worker keeps a connection to at once. When a new one is
 * needed and the table is full, the least recently used connection not
 * in use by the current request is closed (db_conn()).
 */
#define DB_MAX_SERVERS 16
#define DB_MAX_STMTS   128 /* more than the app has distinct queries */

struct db_stmt {
	MYSQL      *my;
	MYSQL_STMT *st;
	char       *sql;
};

struct db_slot {
	struct db_server   srv;
	MYSQL             *my;
	int                verified; /* checked in this request (see db_conn) */
	unsigned long long used;     /* db->clock at the last db_conn() */
};

struct db {
	const struct config *cfg;
	struct db_slot       slots[DB_MAX_SERVERS];
	size_t               n;
	struct db_stmt       stmts[DB_MAX_STMTS];
	size_t               nstmts;
	size_t               evict; /* round robin when full */
	unsigned long long   clock; /* counts db_conn() calls */
};

static void
db_stmt_forget(struct db *db, MYSQL *my)
{
	size_t i;

	for (i = 0; i < DB_MAX_STMTS; i++)
		if (db->stmts[i].st && (my == NULL || db->stmts[i].my == my)) {
			mysql_stmt_close(db->stmts[i].st);
			free(db->stmts[i].sql);
			memset(&db->stmts[i], 0, sizeof(db->stmts[i]));
			db->nstmts--;
		}
}

MYSQL_STMT *
db_stmt(struct db *db, MYSQL *my, const char *sql, unsigned int *err)
{
	struct db_stmt *e = NULL;
	size_t          i;

	for (i = 0; i < DB_MAX_STMTS; i++) {
		if (db->stmts[i].st == NULL) {
			if (e == NULL)
				e = &db->stmts[i];
			continue;
		}
		if (db->stmts[i].my == my && strcmp(db->stmts[i].sql, sql) == 0)
			return db->stmts[i].st;
	}
	if (e == NULL) {
		e = &db->stmts[db->evict++ % DB_MAX_STMTS];
		mysql_stmt_close(e->st);
		free(e->sql);
		db->nstmts--;
	}
	memset(e, 0, sizeof(*e));
	*err = 0;
	if ((e->sql = strdup(sql)) == NULL ||
	    (e->st = mysql_stmt_init(my)) == NULL)
		goto fail;
	if (mysql_stmt_prepare(e->st, sql, strlen(sql)) != 0) {
		*err = mysql_stmt_errno(e->st);
		if (!((*err >= 2000 && *err < 3000) || *err == 4031))
			log_err("sql prepare: %u %s [%.80s]", *err,
			    mysql_stmt_error(e->st), sql);
		goto fail;
	}
	e->my = my;
	db->nstmts++;
	return e->st;
fail:
	if (e->st)
		mysql_stmt_close(e->st);
	free(e->sql);
	memset(e, 0, sizeof(*e));
	return NULL;
}

struct db *
db_new(const struct config *cfg)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->cfg = cfg;
	return db;
}

void
db_free(struct db *db)
{
	size_t i;

	if (db == NULL)
		return;
	db_stmt_forget(db, NULL);
	for (i = 0; i < db->n; i++)
		if (db->slots[i].my)
			mysql_close(db->slots[i].my);
	free(db);
}

/* Fills in the control server's coordinates where srv leaves them out. */
static void
db_resolve(const struct db *db, const struct db_server *in,
    struct db_server *out)
{
	memset(out, 0, sizeof(*out));
	if (in && (in->host[0] || in->socket[0])) {
		*out = *in;
		if (out->port == 0)
			out->port = db->cfg->db_port;
		return;
	}
	if (db->cfg->db_host)
		snprintf(out->host, sizeof(out->host), "%s", db->cfg->db_host);
	if (db->cfg->db_socket)
		snprintf(out->socket, sizeof(out->socket), "%s",
		    db->cfg->db_socket);
	out->port = db->cfg->db_port;
}

static MYSQL *
db_open(const struct db *db, const struct db_server *s, char *err,
    size_t errlen)
{
	MYSQL       *my;
	unsigned int ctimeout = 3, rwtimeout = 15;
	my_bool      off = 0;

	if ((my = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mysql_optionsv(my, MYSQL_OPT_CONNECT_TIMEOUT, &ctimeout);
	mysql_optionsv(my, MYSQL_OPT_READ_TIMEOUT, &rwtimeout);
	mysql_optionsv(my, MYSQL_OPT_WRITE_TIMEOUT, &rwtimeout);
	mysql_optionsv(my, MYSQL_OPT_RECONNECT, &off);
	mysql_optionsv(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/*
	 * Our statements mean what they say only in this mode, whatever
	 * the server's default: strict (a too-long value is an error, not
	 * cut), and SET assignments applied left to right (an UPDATE reads
	 * a column it assigned earlier in the same SET; the server's
	 * SIMULTANEOUS_ASSIGNMENT would read the old value). Sent with the
	 * handshake of every connection, reconnects included.
	 */
	mysql_optionsv(my, MYSQL_INIT_COMMAND,
	    "SET SESSION sql_mode = "
	    "'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,"
	    "NO_ENGINE_SUBSTITUTION'");
	if (mysql_real_connect(my, s->socket[0] ? NULL : s->host,
	        db->cfg->db_user, db->cfg->db_password, NULL,
	        s->socket[0] ? 0 : s->port, s->socket[0] ? s->socket : NULL,
	        CLIENT_FOUND_ROWS) == NULL) {
		/* The connector's message names host and cause, never the password. */
		snprintf(err, errlen, "database %s: %s",
		    s->socket[0] ? s->socket : s->host, mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	return my;
}

/*
 * The slot to reuse when the table is full: the least recently used one
 * that the current request has not touched (its connection may hold a
 * transaction or a result being read). NULL when the request itself
 * uses every slot.
 */
static struct db_slot *
db_slot_victim(struct db *db)
{
	struct db_slot *v = NULL;
	size_t          i;

	for (i = 0; i < db->n; i++)
		if (!db->slots[i].verified &&
		    (v == NULL || db->slots[i].used < v->used))
			v = &db->slots[i];
	return v;
}

/* ping: check a connection kept from an earlier request before its use. */
static MYSQL *
db_conn_at(struct db *db, const struct db_server *srv, int ping, char *err,
    size_t errlen)
{
	struct db_server s;
	struct db_slot  *slot = NULL;
	size_t           i;

	db_resolve(db, srv, &s);
	for (i = 0; i < db->n; i++)
		if (memcmp(&db->slots[i].srv, &s, sizeof(s)) == 0) {
			slot = &db->slots[i];
			break;
		}
	if (slot == NULL) {
		if (db->n < DB_MAX_SERVERS)
			slot = &db->slots[db->n++];
		else if ((slot = db_slot_victim(db)) == NULL) {
			snprintf(err, errlen,
			    "too many database servers in "
			    "one request");
			return NULL;
		} else if (slot->my != NULL) {
			log_debug("database %s: connection closed to make "
			          "room for %s",
			    slot->srv.socket[0] ? slot->srv.socket
			                        : slot->srv.host,
			    s.socket[0] ? s.socket : s.host);
			db_drop(db, slot->my);
		}
		slot->srv = s;
		slot->my = NULL;
		slot->verified = 0;
	}
	slot->used = ++db->clock;
	/*
	 * Cached statements skip the prepare round trip that would have
	 * found a dead connection, so the first use in each request pings:
	 * a MariaDB restart costs nobody a 503 (doc/architecture.md,
	 * Processes). Unless the caller's own statement is the check: it
	 * repeats a read that finds the connection dead (db_conn_unchecked).
	 */
	if (ping && slot->my != NULL && !slot->verified &&
	    mysql_ping(slot->my) != 0) {
		log_info("database connection lost (%s): reconnecting",
		    mysql_error(slot->my));
		db_drop(db, slot->my);
	}
	if (slot->my == NULL)
		slot->my = db_open(db, &s, err, errlen);
	slot->verified = slot->my != NULL;
	return slot->my;
}

MYSQL *
db_conn(struct db *db, const struct db_server *srv, char *err, size_t errlen)
{
	return db_conn_at(db, srv, 1, err, errlen);
}

MYSQL *
db_conn_unchecked(struct db *db, const struct db_server *srv, char *err,
    size_t errlen)
{
	return db_conn_at(db, srv, 0, err, errlen);
}

void
db_request_begin(struct db *db)
{
	size_t i;

	for (i = 0; i < db->n; i++)
		db->slots[i].verified = 0;
}

void
db_drop(struct db *db, MYSQL *my)
{
	size_t i;

	db_stmt_forget(db, my);
	for (i = 0; i < db->n; i++)
		if (db->slots[i].my == my) {
			mysql_close(my);
			db->slots[i].my = NULL;
		}
}

int
db_is_gone(MYSQL *my)
{
	unsigned int e = mysql_errno(my);

	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST ||
	    e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
	    e == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */;
}

int
db_ping(struct db *db, char *err, size_t errlen)
{
	MYSQL *my;
	int    attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((my = db_conn(db, NULL, err, errlen)) == NULL)
			continue;
		if (mysql_ping(my) == 0)
			return 0;
		snprintf(err, errlen, "database ping: %s", mysql_error(my));
		db_drop(db, my);
	}
	return -1;
}

const struct config *
db_config(const struct db *db)
{
	return db->cfg;
}
