/*
 * sql: a thin layer over MariaDB's prepared-statement API, the only way
 * any module talks SQL. Parameters are bound, never spliced; results are
 * fetched as byte strings (the server converts numbers), which keeps the
 * MYSQL_BIND bookkeeping in this one file. A statement with no parameters
 * at all may go as plain text instead (sq_open_text for a read,
 * sq_do_text_on inside a transaction).
 */
#ifndef WABA_SQL_H
#define WABA_SQL_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

struct db;
struct db_server;

#define SQ_MAX_PARAMS 24
#define SQ_MAX_COLS   64 /* store_conn_page reads 62 */

/* Outcomes shared by every store function. */
enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_ERR = -1, /* a bug or a constraint: logged */
	/*
	 * The server is unreachable, or it rolled the transaction back
	 * (a deadlock, a lock wait timeout, a Galera certification
	 * conflict): nothing of it is stored, answer 503, a retry may work.
	 */
	STORE_GONE = -2,
	STORE_DUP = -3 /* a unique key already holds this value */
};

struct sq {
	struct db    *db; /* set by sq_open: a dead connection is dropped */
	MYSQL        *my;
	MYSQL_STMT   *st;
	MYSQL_BIND    p[SQ_MAX_PARAMS];
	long long     pint[SQ_MAX_PARAMS];
	unsigned long plen[SQ_MAX_PARAMS];
	my_bool       pnull[SQ_MAX_PARAMS];
	unsigned int  np;
	MYSQL_BIND    r[SQ_MAX_COLS];
	char         *rbuf[SQ_MAX_COLS];
	unsigned long rlen[SQ_MAX_COLS];
	my_bool       rnull[SQ_MAX_COLS];
	unsigned int  nr;
	int           bad; /* a bind failed: sq_run refuses */
	unsigned int  err; /* the server's error number of the last failure */
	int           cached; /* owned by the db's statement cache */
	struct db    *cdb;    /* that cache, for one in a transaction */
	/* sq_open_read: what to run again on a new connection, once. */
	const struct db_server *again_srv;
	const char             *again_sql;
	/* sq_open_text: the statement, its rows and the current one. */
	const char    *text;
	MYSQL_RES     *res;
	MYSQL_ROW      row;
	unsigned long *lens;
};

/*
 * Prepares sql on the connection to srv (NULL: the control server). A
 * connection found dead here is reopened once: nothing has run yet, so
 * retrying is always safe.
 */
enum store_rc sq_open(struct sq *, struct db *, const struct db_server *,
    const char *sql);
/*
 * sq_open for a read, outside a transaction, that is safe to run twice:
 * without the ping before the connection's first use in the request
 * (db_conn_unchecked), so the read is the request's first round trip
 * rather than its second. Should the connection turn out dead, sq_run
 * runs the read once more on a new connection, as the ping would have
 * reconnected. srv and sql must stay valid until sq_close.
 */
enum store_rc sq_open_read(struct sq *, struct db *, const struct db_server *,
    const char *sql);
/*
 * sq_open_read for a statement with no parameters whose text is not
 * worth a place in the statement cache: sent as one plain query
 * (COM_QUERY), with no prepare before and no close after. For a text
 * used once in a while, as each workspace's own settings statement over
 * a thousand workspaces is (the cache keeps ~40 of its size), a prepare
 * and a close around every execute cost MariaDB ~470 us a page more
 * than the query does (bench/RESULTS.md). Its rows read as sq_open's
 * (sq_fetch, sq_col...); a bound parameter is refused (sq_run: STORE_ERR),
 * so no value ever reaches the SQL's text. Not for rows holding secrets:
 * their buffers are libmariadb's, freed without the wipe sq_close gives
 * its own. sql must stay valid until sq_close.
 */
enum store_rc sq_open_text(struct sq *, struct db *, const struct db_server *,
    const char *sql);
/*
 * Transactions: every statement of one runs on the same connection, with
 * no reconnect in between (a reconnect would silently split it).
 */
enum store_rc sq_begin(struct db *, const struct db_server *, MYSQL **);
enum store_rc sq_open_on(struct sq *, MYSQL *, const char *sql);
enum store_rc sq_commit(struct db *, MYSQL *);
void          sq_rollback(struct db *, MYSQL *);
void          sq_str(struct sq *, const char *); /* NULL binds NULL */
void          sq_bin(struct sq *, const void *, size_t);
void          sq_int(struct sq *, long long);
void          sq_null(struct sq *);
/* Executes; result rows (if any) are buffered client-side. */
enum store_rc sq_run(struct sq *);
/* 1: a row is ready; 0: no more rows; -1: error. */
int sq_fetch(struct sq *);
/* Column i of the current row: NULL for SQL NULL, else NUL-terminated. */
const char *sq_col(const struct sq *, unsigned int);
size_t      sq_collen(const struct sq *, unsigned int);
long long   sq_colint(const struct sq *, unsigned int);
uint64_t    sq_affected(const struct sq *);
uint64_t    sq_insert_id(const struct sq *);
void        sq_close(struct sq *);
/* The connection's own error, classified (for functions that mix calls). */
enum store_rc sq_classify(MYSQL *);
/* Runs one statement without parameters or results (DDL, BEGIN, COMMIT). */
enum store_rc sq_exec(struct db *, const struct db_server *, const char *sql);

/*
 * Row helpers: one call opens the statement, binds its parameters, runs
 * it and, for sq_one, fetches the first row; what each store function
 * used to spell out in five steps. The SQL is a printf format, checked
 * by the compiler, for what cannot be bound (database names: ours,
 * [a-z0-9_], checked where they come from); values are always bound, as
 * a list built with SQ_ARGS:
 *
 *	rc = sq_do(db, NULL, SQ_ARGS(SQ_I(user), SQ_S(email)),
 *	    "INSERT INTO `%s`.users (id, email) VALUES (?, ?)", sq_ctl(db));
 *
 * A list NULL binds nothing. The _on forms run inside the transaction on
 * my (sq_begin); the others through the db's statement cache, as sq_open.
 * Outcomes are sq_run's (STORE_DUP for a unique key, STORE_GONE when the
 * server went away); a statement longer than SQ_MAX_SQL is STORE_ERR.
 */
#define SQ_MAX_SQL 4096

enum sq_type {
	SQ_T_END = 0,
	SQ_T_STR, /* s; NULL binds NULL */
	SQ_T_BIN, /* b, len bytes */
	SQ_T_INT, /* i */
	SQ_T_NULL
};

struct sq_arg {
	enum sq_type type;
	const char  *s;
	const void  *b;
	size_t       len;
	long long    i;
};

/*
 * Typed by their fields: a value of the wrong kind is a compiler
 * diagnostic (-Wint-conversion, -Wincompatible-pointer-types; errors
 * with --enable-werror).
 */
#define SQ_S(v)    ((struct sq_arg){ .type = SQ_T_STR, .s = (v) })
#define SQ_B(p, n) ((struct sq_arg){ .type = SQ_T_BIN, .b = (p), .len = (n) })
#define SQ_I(v)    ((struct sq_arg){ .type = SQ_T_INT, .i = (v) })
#define SQ_NULL    ((struct sq_arg){ .type = SQ_T_NULL })
/* The list, ended by its terminator: SQ_ARGS(SQ_S(a), SQ_I(b)). */
#define SQ_ARGS(...) \
	((const struct sq_arg[]){ __VA_ARGS__, { .type = SQ_T_END } })

/*
 * Binds the list (NULL: nothing) after what q already holds, through
 * sq_str/sq_bin/sq_int/sq_null; more than SQ_MAX_PARAMS marks q bad, so
 * sq_run refuses it. Returns how many it bound.
 */
unsigned int sq_bind(struct sq *, const struct sq_arg *);
/* Runs a statement whose rows, if any, nobody reads. */
enum store_rc sq_do(struct db *, const struct db_server *,
    const struct sq_arg *, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum store_rc sq_do_on(MYSQL *, const struct sq_arg *, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * sq_do_on for a statement with no parameters: sent as one plain query
 * (COM_QUERY), with no prepare and no close around it, for a text too
 * many-fold to stay in the statement cache (each workspace's own, run
 * once a delivery). The SQL's text is a format as the others', holding
 * names only; rows, if any, are read and dropped. Outcomes as sq_run's
 * (classified by sq_classify, as an execute's), with *err the server's
 * error number (0: none); nothing is logged, the caller knows what a
 * failure means. A dead connection is left to the transaction's
 * rollback or commit to drop.
 */
enum store_rc sq_do_text_on(MYSQL *, unsigned int *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Runs a statement and keeps q for its rows (sq_fetch), sq_affected or
 * sq_insert_id: on STORE_OK the caller sq_closes q. On any other outcome
 * q is closed already (sq_close again is harmless) but q->err still
 * holds the server's error number.
 */
enum store_rc sq_rows(struct sq *, struct db *, const struct db_server *,
    const struct sq_arg *, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum store_rc sq_rows_on(struct sq *, MYSQL *, const struct sq_arg *,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * As sq_rows, with the first row fetched: STORE_OK, the row is ready
 * (sq_col...) and the caller sq_closes q; STORE_NOTFOUND when there is
 * none (q closed).
 */
enum store_rc sq_one(struct sq *, struct db *, const struct db_server *,
    const struct sq_arg *, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum store_rc sq_one_on(struct sq *, MYSQL *, const struct sq_arg *,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The control database's name, for the tables every workspace shares. */
const char *sq_ctl(const struct db *);

#endif
