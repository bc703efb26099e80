/*
 * sql: a thin layer over MariaDB's prepared-statement API, the only way
 * any module talks SQL. Parameters are bound, never spliced; results are
 * fetched as byte strings (the server converts numbers), which keeps the
 * MYSQL_BIND bookkeeping in this one file.
 */
#ifndef WABA_SQL_H
#define WABA_SQL_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

struct db;
struct db_server;

#define SQ_MAX_PARAMS	24
#define SQ_MAX_COLS	32

/* Outcomes shared by every store function. */
enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_ERR = -1,		/* a bug or a constraint: logged */
	STORE_GONE = -2,	/* the server is unreachable: answer 503 */
	STORE_DUP = -3		/* a unique key already holds this value */
};

struct sq {
	struct db	*db;	/* set by sq_open: a dead connection is dropped */
	MYSQL		*my;
	MYSQL_STMT	*st;
	MYSQL_BIND	 p[SQ_MAX_PARAMS];
	long long	 pint[SQ_MAX_PARAMS];
	unsigned long	 plen[SQ_MAX_PARAMS];
	my_bool		 pnull[SQ_MAX_PARAMS];
	unsigned int	 np;
	MYSQL_BIND	 r[SQ_MAX_COLS];
	char		*rbuf[SQ_MAX_COLS];
	unsigned long	 rlen[SQ_MAX_COLS];
	my_bool		 rnull[SQ_MAX_COLS];
	unsigned int	 nr;
	int		 bad;	/* a bind failed: sq_run refuses */
	unsigned int	 err;	/* the server's error number of the last failure */
	int		 cached;	/* owned by the db's statement cache */
	/* sq_open_read: what to run again on a new connection, once. */
	const struct db_server *again_srv;
	const char	*again_sql;
};

/*
 * Prepares sql on the connection to srv (NULL: the control server). A
 * connection found dead here is reopened once: nothing has run yet, so
 * retrying is always safe.
 */
enum store_rc	 sq_open(struct sq *, struct db *, const struct db_server *,
		    const char *sql);
/*
 * sq_open for a read, outside a transaction, that is safe to run twice:
 * without the ping before the connection's first use in the request
 * (db_conn_unchecked), so the read is the request's first round trip
 * rather than its second. Should the connection turn out dead, sq_run
 * runs the read once more on a new connection, as the ping would have
 * reconnected. srv and sql must stay valid until sq_close.
 */
enum store_rc	 sq_open_read(struct sq *, struct db *,
		    const struct db_server *, const char *sql);
/*
 * Transactions: every statement of one runs on the same connection, with
 * no reconnect in between (a reconnect would silently split it).
 */
enum store_rc	 sq_begin(struct db *, const struct db_server *, MYSQL **);
enum store_rc	 sq_open_on(struct sq *, MYSQL *, const char *sql);
enum store_rc	 sq_commit(struct db *, MYSQL *);
void		 sq_rollback(struct db *, MYSQL *);
void		 sq_str(struct sq *, const char *);	/* NULL binds NULL */
void		 sq_bin(struct sq *, const void *, size_t);
void		 sq_int(struct sq *, long long);
void		 sq_null(struct sq *);
/* Executes; result rows (if any) are buffered client-side. */
enum store_rc	 sq_run(struct sq *);
/* 1: a row is ready; 0: no more rows; -1: error. */
int		 sq_fetch(struct sq *);
/* Column i of the current row: NULL for SQL NULL, else NUL-terminated. */
const char	*sq_col(const struct sq *, unsigned int);
size_t		 sq_collen(const struct sq *, unsigned int);
long long	 sq_colint(const struct sq *, unsigned int);
uint64_t	 sq_affected(const struct sq *);
uint64_t	 sq_insert_id(const struct sq *);
void		 sq_close(struct sq *);
/* The connection's own error, classified (for functions that mix calls). */
enum store_rc	 sq_classify(MYSQL *);
/* Runs one statement without parameters or results (DDL, BEGIN, COMMIT). */
enum store_rc	 sq_exec(struct db *, const struct db_server *, const char *sql);

#endif
