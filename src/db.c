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
#include <time.h>

#include <errmsg.h>
#include <mysql.h>

#include "config.h"
#include "db.h"
#include "hostlist.h"
#include "log.h"

/*
 * Servers a worker keeps a connection to at once. When a new one is
 * needed and the table is full, the least recently used connection not
 * in use by the current request is closed (db_conn()).
 */
#define DB_MAX_SERVERS 16
/*
 * The statement cache is bounded by what it holds in the worker, not by
 * a count alone: with a thousand workspaces every one's statements have
 * their own text, and 128 of the settings page's (62 columns) took a
 * worker from 6.6 to 10.0 MiB. The least recently used one goes first,
 * so the control database's statements, used by every request, stay.
 * DB_STMT_COST is what one costs in libmariadb, measured (VmRSS over 200
 * prepared and executed on one connection): 9.1 KiB for one column,
 * 11.1 for 7, 30.2 for 62.
 */
#define DB_MAX_STMTS   256
#define DB_STMT_BUDGET (1536 * 1024)
#define DB_STMT_COST(st, sql) \
	(9216 + 350 * (size_t)mysql_stmt_field_count(st) + strlen(sql))
/*
 * How long a host that refused us or lost our connection goes to the
 * back of its list: long enough that every request in the meantime goes
 * straight to a live node, short enough that a node back from a restart
 * is preferred again within seconds (the list's order is the operator's
 * preference).
 */
#define DB_DOWN_SECONDS 10

struct db_stmt {
	MYSQL      *my;
	MYSQL_STMT *st;
	char       *sql;
	/*
	 * Held by an open sq (between db_stmt and db_stmt_done): neither
	 * evicted nor handed out again, which would close a statement
	 * whose rows are being read, or run it a second time under them.
	 */
	int                busy;
	size_t             cost; /* DB_STMT_COST at its prepare */
	unsigned long long used; /* db->stmt_clock at its last use */
};

/* The key under which each connection carries its db (db_of). */
#define DB_USERDATA "waba-connect.db"

struct db_slot {
	struct db_server   srv;
	MYSQL             *my;
	int                verified; /* checked in this request (see db_conn) */
	unsigned long long used;     /* db->clock at the last db_conn() */
	unsigned int       cur;      /* the host list entry connected to */
	time_t             down[HL_MAX]; /* tried last until then */
};

struct db {
	const struct config *cfg;
	struct db_slot       slots[DB_MAX_SERVERS];
	size_t               n;
	struct db_stmt       stmts[DB_MAX_STMTS];
	size_t               nstmts;
	size_t               stmt_bytes; /* the sum of their costs */
	unsigned long long   stmt_clock; /* ticks at each use of an entry */
	unsigned long long   clock;      /* counts db_conn() calls */
};

static void
db_stmt_clear(struct db *db, struct db_stmt *e)
{
	mysql_stmt_close(e->st);
	free(e->sql);
	db->stmt_bytes -= e->cost;
	db->nstmts--;
	memset(e, 0, sizeof(*e));
}

/*
 * A connection's statements, as it closes. One still held by an open sq
 * is orphaned instead (my NULL: no lookup finds it): closing it under
 * its holder would free what the holder reads or closes next.
 * db_stmt_done closes it, which libmariadb allows after the connection
 * is gone (mysql_close detaches its statements).
 */
static void
db_stmt_forget(struct db *db, MYSQL *my)
{
	size_t i;

	for (i = 0; i < DB_MAX_STMTS; i++) {
		if (db->stmts[i].st == NULL ||
		    (my != NULL && db->stmts[i].my != my))
			continue;
		if (db->stmts[i].busy && my != NULL)
			db->stmts[i].my = NULL;
		else
			db_stmt_clear(db, &db->stmts[i]);
	}
}

/* The least recently used entry that nobody holds; NULL if none. */
static struct db_stmt *
db_stmt_lru(struct db *db)
{
	struct db_stmt *v = NULL;
	size_t          i;

	for (i = 0; i < DB_MAX_STMTS; i++)
		if (db->stmts[i].st != NULL && !db->stmts[i].busy &&
		    (v == NULL || db->stmts[i].used < v->used))
			v = &db->stmts[i];
	return v;
}

static MYSQL_STMT *
db_prepare(MYSQL *my, const char *sql, unsigned int *err)
{
	MYSQL_STMT *st;

	if ((st = mysql_stmt_init(my)) == NULL)
		return NULL;
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		*err = mysql_stmt_errno(st);
		if (!db_errno_gone(*err))
			log_err("sql prepare: %u %s [%.80s]", *err,
			    mysql_stmt_error(st), sql);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

MYSQL_STMT *
db_stmt(struct db *db, MYSQL *my, const char *sql, unsigned int *err,
    int *cached)
{
	struct db_stmt *e;
	MYSQL_STMT     *st;
	size_t          i, cost;
	int             held = 0;
	char           *copy;

	*err = 0;
	*cached = 0;
	if (db == NULL)
		return db_prepare(my, sql, err);
	for (i = 0; i < DB_MAX_STMTS; i++) {
		e = &db->stmts[i];
		if (e->st == NULL || e->my != my || strcmp(e->sql, sql) != 0)
			continue;
		if (e->busy) {
			held = 1; /* the caller gets one of its own */
			break;
		}
		e->busy = 1;
		e->used = ++db->stmt_clock;
		*cached = 1;
		return e->st;
	}
	if ((st = db_prepare(my, sql, err)) == NULL)
		return NULL;
	cost = DB_STMT_COST(st, sql);
	if (held || cost > DB_STMT_BUDGET)
		return st;
	while (db->nstmts == DB_MAX_STMTS ||
	    db->stmt_bytes + cost > DB_STMT_BUDGET) {
		if ((e = db_stmt_lru(db)) == NULL)
			return st; /* every one held: not kept either */
		db_stmt_clear(db, e);
	}
	if ((copy = strdup(sql)) == NULL)
		return st;
	for (i = 0; db->stmts[i].st != NULL; i++)
		; /* nstmts < DB_MAX_STMTS: there is a free entry */
	e = &db->stmts[i];
	e->my = my;
	e->st = st;
	e->sql = copy;
	e->busy = 1;
	e->cost = cost;
	e->used = ++db->stmt_clock;
	db->stmt_bytes += cost;
	db->nstmts++;
	*cached = 1;
	return st;
}

void
db_stmt_done(struct db *db, MYSQL_STMT *st)
{
	size_t i;

	for (i = 0; i < DB_MAX_STMTS; i++)
		if (db->stmts[i].st == st) {
			db->stmts[i].busy = 0;
			if (db->stmts[i].my == NULL)
				db_stmt_clear(db, &db->stmts[i]);
			return;
		}
}

void
db_stmt_release(struct db *db)
{
	size_t i;

	for (i = 0; i < DB_MAX_STMTS; i++)
		if (db->stmts[i].st != NULL && db->stmts[i].busy)
			db_stmt_done(db, db->stmts[i].st);
}

struct db *
db_of(MYSQL *my)
{
	void *p = NULL;

	if (my == NULL ||
	    mysql_get_optionv(my, MARIADB_OPT_USERDATA, (char *)DB_USERDATA,
	        &p) != 0)
		return NULL;
	return p;
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

int
db_errno_gone(unsigned int e)
{
	/*
	 * Client errors (2000-2999: gone, lost, cannot connect), the
	 * server's idle timeout, and a Galera node that has left the
	 * cluster's primary component (ER_UNKNOWN_COM_ERROR, "WSREP has
	 * not yet prepared node for application use"): each answers every
	 * later statement the same way, so the connection is replaced.
	 */
	return (e >= 2000 && e < 3000) || e == 4031 || e == 1047;
}

static MYSQL *
db_open_one(const struct db *db, const struct db_server *s,
    const struct hl_host *h, char *err, size_t errlen)
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
	if (mysql_real_connect(my, h ? h->name : NULL, db->cfg->db_user,
	        db->cfg->db_password, NULL, h ? h->port : 0,
	        h ? NULL : s->socket, CLIENT_FOUND_ROWS) == NULL) {
		/* The connector's message names host and cause, never the password. */
		if (h)
			snprintf(err, errlen, "database %s:%u: %s", h->name,
			    h->port, mysql_error(my));
		else
			snprintf(err, errlen, "database %s: %s", s->socket,
			    mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	return my;
}

/*
 * Opens slot's connection: a socket, or the first host of its list that
 * answers, hosts that failed in the last DB_DOWN_SECONDS last.
 */
static MYSQL *
db_open(const struct db *db, struct db_slot *slot, char *err, size_t errlen)
{
	struct hl_host hosts[HL_MAX];
	MYSQL         *my;
	time_t         now = time(NULL);
	int            n, pass, i;

	if (slot->srv.socket[0])
		return db_open_one(db, &slot->srv, NULL, err, errlen);
	if ((n = hl_parse(slot->srv.host, slot->srv.port, hosts, HL_MAX, err,
	         errlen)) < 0)
		return NULL; /* config and admin checked it: not reached */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			if ((slot->down[i] > now) != pass)
				continue;
			if ((my = db_open_one(db, &slot->srv, &hosts[i], err,
			         errlen)) != NULL) {
				if (i != 0 && n > 1)
					log_info("database %s:%u: connected "
					         "(entry %d of the host list)",
					    hosts[i].name, hosts[i].port,
					    i + 1);
				slot->cur = (unsigned int)i;
				slot->down[i] = 0;
				return my;
			}
			slot->down[i] = now + DB_DOWN_SECONDS;
			if (n > 1)
				log_warn("%s", err);
		}
	return NULL;
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
		memset(slot, 0, sizeof(*slot));
		slot->srv = s;
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
		db_lost(db, slot->my);
	}
	if (slot->my == NULL &&
	    (slot->my = db_open(db, slot, err, errlen)) != NULL &&
	    mysql_optionsv(slot->my, MARIADB_OPT_USERDATA, (void *)DB_USERDATA,
	        (void *)db) != 0)
		log_warn("database: cannot mark the connection; statements in "
		         "its transactions are prepared each time");
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
	db_stmt_release(db);
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

void
db_lost(struct db *db, MYSQL *my)
{
	size_t i;

	for (i = 0; i < db->n; i++)
		if (db->slots[i].my == my && my != NULL &&
		    db->slots[i].cur < HL_MAX)
			db->slots[i].down[db->slots[i].cur] = time(NULL) +
			    DB_DOWN_SECONDS;
	db_drop(db, my);
}

int
db_is_gone(MYSQL *my)
{
	unsigned int e = mysql_errno(my);

	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST ||
	    e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
	    e == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */ ||
	    e == 1047 /* a Galera node outside the primary component */;
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
		db_lost(db, my);
	}
	return -1;
}

int
db_nodes(struct db *db, const struct db_server *srv, db_node_fn fn, void *arg)
{
	struct hl_host   hosts[HL_MAX];
	struct db_server s;
	MYSQL           *my;
	MYSQL_RES       *res;
	MYSQL_ROW        row;
	char             err[512], node[300], state[64];
	int              n, i;

	db_resolve(db, srv, &s);
	if (s.socket[0])
		return 0;
	if ((n = hl_parse(s.host, s.port, hosts, HL_MAX, err, sizeof(err))) < 0)
		return -1;
	if (n < 2)
		return 0;
	for (i = 0; i < n; i++) {
		snprintf(node, sizeof(node),
		    strchr(hosts[i].name, ':') ? "[%s]:%u" : "%s:%u",
		    hosts[i].name, hosts[i].port);
		if ((my = db_open_one(db, &s, &hosts[i], err, sizeof(err))) ==
		    NULL) {
			fn(arg, node, err, 0);
			continue;
		}
		/* Not a Galera node: no such variable, no row. */
		*state = '\0';
		if (mysql_query(my,
		        "SHOW STATUS LIKE 'wsrep_local_state_comment'") == 0 &&
		    (res = mysql_store_result(my)) != NULL) {
			if ((row = mysql_fetch_row(res)) != NULL && row[1])
				snprintf(state, sizeof(state), "%s", row[1]);
			mysql_free_result(res);
		}
		fn(arg, node, state, 1);
		mysql_close(my);
	}
	return n;
}

const struct config *
db_config(const struct db *db)
{
	return db->cfg;
}
