/*
 * sq_*: the only code that speaks MariaDB's prepared-statement API, so
 * that values are always bound, never spliced into SQL, and the
 * MYSQL_BIND bookkeeping and the error classification (STORE_DUP,
 * STORE_GONE...) live in one file. The plain queries it sends
 * (sq_open_text, sq_do_text_on) take no values at all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "../config.h"
#include "../db.h"
#include "../log.h"
#include "sql.h"

/*
 * The server gave up the transaction, not the connection: InnoDB's
 * deadlock victim, a lock wait timeout, and Galera's certification
 * conflict (also reported as ER_LOCK_DEADLOCK, "try restarting
 * transaction"), seen when two nodes commit the same rows or a node's
 * leaving aborts what it was replicating. Worth a retry by the client
 * (a 503), not a dropped connection.
 */
static int
sq_rolled_back(unsigned int e)
{
	return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT;
}

enum store_rc
sq_classify(MYSQL *my)
{
	unsigned int e = mysql_errno(my);

	if (db_is_gone(my) || sq_rolled_back(e))
		return STORE_GONE;
	if (e == ER_DUP_ENTRY)
		return STORE_DUP;
	return STORE_ERR;
}

/*
 * Frees the result buffers sq_run allocated and forgets the columns. Every
 * path that sets nr back to 0 goes through here, or the buffers leak.
 */
static void
sq_free_cols(struct sq *q)
{
	unsigned int i;

	for (i = 0; i < SQ_MAX_COLS; i++) {
		/* Result buffers may have held ciphertext or hashes. */
		if (q->rbuf[i] != NULL) {
			explicit_bzero(q->rbuf[i], q->r[i].buffer_length);
			free(q->rbuf[i]);
			q->rbuf[i] = NULL;
		}
	}
	q->nr = 0;
}

static enum store_rc
sq_stmt_fail(struct sq *q, const char *what)
{
	unsigned int  e = mysql_stmt_errno(q->st);
	enum store_rc rc;

	q->err = e;
	if (e == ER_DUP_ENTRY)
		return STORE_DUP;
	rc = db_errno_gone(e) || sq_rolled_back(e) ? STORE_GONE : STORE_ERR;
	/* Messages name tables and columns, never bound values. */
	log_err("sql %s: %u %s", what, e, mysql_stmt_error(q->st));
	if (rc == STORE_GONE && db_errno_gone(e) && q->db != NULL) {
		/*
		 * The connection is dead: drop it (and its cached statements,
		 * ours included) so the next request reconnects.
		 */
		if (!q->cached)
			mysql_stmt_close(q->st);
		else
			db_stmt_done(q->db, q->st); /* db_lost closes it */
		q->st = NULL;
		sq_free_cols(q);
		db_lost(q->db, q->my);
		q->my = NULL;
	}
	return rc;
}

/* checked: db_conn (ping a kept connection first) or db_conn_unchecked. */
static enum store_rc
sq_open_at(struct sq *q, struct db *db, const struct db_server *srv,
    const char *sql, int checked)
{
	char         err[256];
	int          attempt;
	unsigned int e;

	memset(q, 0, sizeof(*q));
	for (attempt = 0; attempt < 2; attempt++) {
		/* A retry has dropped the connection: it reopens, no ping. */
		q->my = checked || attempt
		    ? db_conn(db, srv, err, sizeof(err))
		    : db_conn_unchecked(db, srv, err, sizeof(err));
		if (q->my == NULL) {
			log_warn("%s", err);
			return STORE_GONE;
		}
		if ((q->st = db_stmt(db, q->my, sql, &e, &q->cached)) != NULL) {
			q->db = db;
			return STORE_OK;
		}
		if (!db_errno_gone(e))
			return STORE_ERR;
		db_lost(db, q->my);
	}
	return STORE_GONE;
}

enum store_rc
sq_open(struct sq *q, struct db *db, const struct db_server *srv,
    const char *sql)
{
	return sq_open_at(q, db, srv, sql, 1);
}

enum store_rc
sq_open_read(struct sq *q, struct db *db, const struct db_server *srv,
    const char *sql)
{
	enum store_rc rc;

	if ((rc = sq_open_at(q, db, srv, sql, 0)) == STORE_OK) {
		q->again_srv = srv;
		q->again_sql = sql;
	}
	return rc;
}

enum store_rc
sq_open_text(struct sq *q, struct db *db, const struct db_server *srv,
    const char *sql)
{
	char err[256];

	memset(q, 0, sizeof(*q));
	/*
	 * Nothing goes to the server before sq_run: the query itself finds
	 * a dead connection, and sq_run sends it once more on a new one.
	 */
	if ((q->my = db_conn_unchecked(db, srv, err, sizeof(err))) == NULL) {
		log_warn("%s", err);
		return STORE_GONE;
	}
	q->db = db;
	q->text = sql;
	q->again_srv = srv;
	q->again_sql = sql;
	return STORE_OK;
}

enum store_rc
sq_open_on(struct sq *q, MYSQL *my, const char *sql)
{
	unsigned int e;

	memset(q, 0, sizeof(*q));
	q->my = my;
	/*
	 * A transaction's statements come from the cache too: a prepare
	 * is a round trip and a parse, and closing one another message
	 * (a webhook delivery's two inserts were 4 of its 11 commands).
	 * q->db stays NULL: a dead connection is for the transaction's
	 * owner to drop, at its rollback or commit, not under it.
	 */
	q->cdb = db_of(my); /* NULL: not ours to cache, q's own */
	if ((q->st = db_stmt(q->cdb, my, sql, &e, &q->cached)) != NULL)
		return STORE_OK;
	q->err = e;
	return db_errno_gone(e) || sq_rolled_back(e) ? STORE_GONE : STORE_ERR;
}

enum store_rc
sq_begin(struct db *db, const struct db_server *srv, MYSQL **out)
{
	struct sq     q;
	enum store_rc rc;

	/* sq_open reconnects if needed; nothing is in flight yet. */
	if ((rc = sq_open(&q, db, srv, "START TRANSACTION")) != STORE_OK)
		return rc;
	rc = sq_run(&q);
	*out = q.my;
	sq_close(&q);
	return rc;
}

enum store_rc
sq_commit(struct db *db, MYSQL *my)
{
	enum store_rc rc;

	if (mysql_commit(my) == 0)
		return STORE_OK;
	rc = sq_classify(my);
	log_err("sql commit: %s", mysql_error(my));
	if (db_is_gone(my))
		db_lost(db, my);
	else
		mysql_rollback(my);
	return rc;
}

void
sq_rollback(struct db *db, MYSQL *my)
{
	if (mysql_rollback(my) != 0 && db_is_gone(my))
		db_lost(db, my);
}

static MYSQL_BIND *
sq_next(struct sq *q)
{
	if (q->np >= SQ_MAX_PARAMS) {
		q->bad = 1;
		return NULL;
	}
	memset(&q->p[q->np], 0, sizeof(q->p[0]));
	return &q->p[q->np];
}

void
sq_str(struct sq *q, const char *s)
{
	if (s == NULL) {
		sq_null(q);
		return;
	}
	sq_bin(q, s, strlen(s));
	if (!q->bad)
		q->p[q->np - 1].buffer_type = MYSQL_TYPE_STRING;
}

void
sq_bin(struct sq *q, const void *p, size_t len)
{
	MYSQL_BIND *b;

	if ((b = sq_next(q)) == NULL)
		return;
	b->buffer_type = MYSQL_TYPE_BLOB;
	b->buffer = (void *)p;
	q->plen[q->np] = (unsigned long)len;
	b->buffer_length = (unsigned long)len;
	b->length = &q->plen[q->np];
	q->np++;
}

void
sq_int(struct sq *q, long long v)
{
	MYSQL_BIND *b;

	if ((b = sq_next(q)) == NULL)
		return;
	q->pint[q->np] = v;
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = &q->pint[q->np];
	q->np++;
}

void
sq_null(struct sq *q)
{
	MYSQL_BIND *b;

	if ((b = sq_next(q)) == NULL)
		return;
	b->buffer_type = MYSQL_TYPE_NULL;
	q->pnull[q->np] = 1;
	b->is_null = &q->pnull[q->np];
	q->np++;
}

static enum store_rc
sq_run_once(struct sq *q)
{
	MYSQL_RES    *meta;
	MYSQL_FIELD  *f;
	my_bool       on = 1;
	unsigned int  i, n;
	unsigned long sz;

	if (q->bad || q->np != mysql_stmt_param_count(q->st)) {
		log_err("sql: %u parameters bound, %lu expected", q->np,
		    mysql_stmt_param_count(q->st));
		return STORE_ERR;
	}
	if (q->np && mysql_stmt_bind_param(q->st, q->p))
		return sq_stmt_fail(q, "bind");
	if ((meta = mysql_stmt_result_metadata(q->st)) != NULL)
		mysql_stmt_attr_set(q->st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
	if (mysql_stmt_execute(q->st)) {
		if (meta)
			mysql_free_result(meta);
		return sq_stmt_fail(q, "execute");
	}
	if (meta == NULL)
		return STORE_OK;
	if (mysql_stmt_store_result(q->st)) {
		mysql_free_result(meta);
		return sq_stmt_fail(q, "store");
	}
	/* nr stays 0 until it is known to fit the arrays sq_close walks. */
	if ((n = mysql_num_fields(meta)) > SQ_MAX_COLS) {
		mysql_free_result(meta);
		log_err("sql: %u columns, at most %d", n, SQ_MAX_COLS);
		return STORE_ERR;
	}
	/* Buffers of an earlier run on this q are not left behind. */
	sq_free_cols(q);
	q->nr = n;
	/* max_length is known now that the rows are buffered. */
	for (i = 0; i < q->nr; i++) {
		f = mysql_fetch_field_direct(meta, i);
		sz = (f->max_length > 0 ? f->max_length : 1) + 1;
		if (sz < 32)
			sz = 32; /* numbers and dates as text */
		if ((q->rbuf[i] = calloc(1, sz)) == NULL) {
			mysql_free_result(meta);
			return STORE_ERR;
		}
		memset(&q->r[i], 0, sizeof(q->r[i]));
		q->r[i].buffer_type = MYSQL_TYPE_STRING;
		q->r[i].buffer = q->rbuf[i];
		q->r[i].buffer_length = sz - 1;
		q->r[i].length = &q->rlen[i];
		q->r[i].is_null = &q->rnull[i];
	}
	mysql_free_result(meta);
	if (mysql_stmt_bind_result(q->st, q->r))
		return sq_stmt_fail(q, "bind result");
	return STORE_OK;
}

static enum store_rc
sq_text_once(struct sq *q)
{
	enum store_rc rc;
	unsigned int  n;

	if (q->bad || q->np != 0) {
		log_err("sql: %u parameters bound to a plain query", q->np);
		return STORE_ERR;
	}
	if (q->res != NULL) { /* an earlier run of this q */
		mysql_free_result(q->res);
		q->res = NULL;
		q->row = NULL;
		q->nr = 0;
	}
	if (mysql_real_query(q->my, q->text, strlen(q->text)) == 0) {
		if ((q->res = mysql_store_result(q->my)) != NULL) {
			if ((n = mysql_num_fields(q->res)) <= SQ_MAX_COLS) {
				q->nr = n;
				return STORE_OK;
			}
			log_err("sql: %u columns, at most %d", n, SQ_MAX_COLS);
			return STORE_ERR;
		}
		if (mysql_field_count(q->my) == 0)
			return STORE_OK; /* no result set, none was due */
	}
	q->err = mysql_errno(q->my);
	rc = sq_classify(q->my);
	/* Messages name tables and columns; the query holds no values. */
	log_err("sql query: %u %s", q->err, mysql_error(q->my));
	if (rc == STORE_GONE && db_is_gone(q->my)) {
		db_lost(q->db, q->my);
		q->my = NULL;
	}
	return rc;
}

static enum store_rc
sq_text_run(struct sq *q)
{
	enum store_rc rc;
	char          err[256];

	if ((rc = sq_text_once(q)) != STORE_GONE || q->my != NULL ||
	    q->again_sql == NULL)
		return rc;
	/* As sq_run's second read: the connection died, nothing ran. */
	log_info("database connection lost: reading again");
	q->again_sql = NULL;
	if ((q->my = db_conn(q->db, q->again_srv, err, sizeof(err))) == NULL) {
		log_warn("%s", err);
		return STORE_GONE;
	}
	return sq_text_once(q);
}

enum store_rc
sq_run(struct sq *q)
{
	struct sq     again;
	enum store_rc rc;

	if (q->text != NULL)
		return sq_text_run(q);

	/*
	 * Only a dropped connection (q->st gone with it) is read again: a
	 * deadlock or a lock wait timeout is STORE_GONE too, on a live
	 * connection, and its statement still open here.
	 */
	if ((rc = sq_run_once(q)) != STORE_GONE || q->again_sql == NULL ||
	    q->st != NULL)
		return rc;
	/*
	 * sq_stmt_fail has dropped the dead connection: the read goes once
	 * more on a new one, with the same parameters. Outside a
	 * transaction it means the same there, and a read changes nothing
	 * that running it twice could double.
	 */
	log_info("database connection lost: reading again");
	if ((rc = sq_open(&again, q->db, q->again_srv, q->again_sql)) !=
	    STORE_OK)
		return rc;
	q->my = again.my;
	q->st = again.st;
	q->cached = again.cached;
	q->again_sql = NULL;
	return sq_run_once(q);
}

int
sq_fetch(struct sq *q)
{
	unsigned int i;
	int          rc;

	if (q->nr == 0)
		return 0;
	if (q->text != NULL) {
		/* Buffered rows: the fetch itself cannot fail. */
		if ((q->row = mysql_fetch_row(q->res)) == NULL)
			return 0;
		q->lens = mysql_fetch_lengths(q->res);
		return 1;
	}
	rc = mysql_stmt_fetch(q->st);
	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
		sq_stmt_fail(q, "fetch");
		return -1;
	}
	for (i = 0; i < q->nr; i++)
		if (!q->rnull[i])
			q->rbuf[i][q->rlen[i] < q->r[i].buffer_length
			        ? q->rlen[i]
			        : q->r[i].buffer_length] = '\0';
	return 1;
}

const char *
sq_col(const struct sq *q, unsigned int i)
{
	if (q->text != NULL) /* libmariadb ends each value with a NUL */
		return i < q->nr && q->row != NULL ? q->row[i] : NULL;
	if (i >= q->nr || q->rnull[i])
		return NULL;
	return q->rbuf[i];
}

size_t
sq_collen(const struct sq *q, unsigned int i)
{
	if (q->text != NULL)
		return i < q->nr && q->row != NULL && q->row[i] != NULL
		    ? q->lens[i]
		    : 0;
	if (i >= q->nr || q->rnull[i])
		return 0;
	/*
	 * A truncated fetch reports the column's full length; only
	 * buffer_length bytes of it are in rbuf (sq_fetch cut it there).
	 */
	return q->rlen[i] < q->r[i].buffer_length ? q->rlen[i]
	                                          : q->r[i].buffer_length;
}

long long
sq_colint(const struct sq *q, unsigned int i)
{
	const char *s = sq_col(q, i);

	return s ? strtoll(s, NULL, 10) : 0;
}

uint64_t
sq_affected(const struct sq *q)
{
	if (q->text != NULL)
		return q->my ? mysql_affected_rows(q->my) : 0;
	return q->st ? mysql_stmt_affected_rows(q->st) : 0;
}

uint64_t
sq_insert_id(const struct sq *q)
{
	if (q->text != NULL)
		return q->my ? mysql_insert_id(q->my) : 0;
	return q->st ? mysql_stmt_insert_id(q->st) : 0;
}

void
sq_close(struct sq *q)
{
	sq_free_cols(q);
	if (q->res != NULL)
		mysql_free_result(q->res);
	/*
	 * A cached statement is kept, ready for the next execute. Freeing
	 * its result is all it needs, and costs no round trip: in MariaDB
	 * Connector/C mysql_stmt_free_result frees the buffered rows and
	 * clears the error client-side, and mysql_stmt_execute itself
	 * discards anything left of an earlier result. mysql_stmt_reset
	 * would add a COM_STMT_RESET round trip to every statement for
	 * what it resets on the server, long data and cursors, which sq_
	 * never uses (no mysql_stmt_send_long_data, no STMT_ATTR_CURSOR_TYPE).
	 */
	if (q->st && q->cached) {
		mysql_stmt_free_result(q->st);
		db_stmt_done(q->cdb ? q->cdb : q->db, q->st);
	} else if (q->st)
		mysql_stmt_close(q->st);
	memset(q, 0, sizeof(*q));
}

enum store_rc
sq_exec(struct db *db, const struct db_server *srv, const char *sql)
{
	struct sq     q;
	enum store_rc rc;

	if ((rc = sq_open(&q, db, srv, sql)) != STORE_OK)
		return rc;
	rc = sq_run(&q);
	sq_close(&q);
	return rc;
}

unsigned int
sq_bind(struct sq *q, const struct sq_arg *a)
{
	unsigned int n = 0;

	for (; a != NULL && a->type != SQ_T_END; a++, n++)
		switch (a->type) {
		case SQ_T_STR:
			sq_str(q, a->s);
			break;
		case SQ_T_BIN:
			sq_bin(q, a->b, a->len);
			break;
		case SQ_T_INT:
			sq_int(q, a->i);
			break;
		case SQ_T_NULL:
			sq_null(q);
			break;
		default:
			/* Not made by SQ_*: refuse rather than guess. */
			q->bad = 1;
			break;
		}
	return n;
}

/*
 * A statement's text from its format: its length, or -1 (logged) when
 * it does not fit, for a cut statement might still run, as another one.
 */
static int sq_vformat(char[SQ_MAX_SQL], const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static int
sq_vformat(char sql[SQ_MAX_SQL], const char *fmt, va_list ap)
{
	int n = vsnprintf(sql, SQ_MAX_SQL, fmt, ap);

	if (n < 0 || n >= SQ_MAX_SQL) {
		log_err("sql: a statement longer than %d bytes",
		    SQ_MAX_SQL - 1);
		return -1;
	}
	return n;
}

/*
 * The one body of the row helpers: the SQL formatted from fmt, opened
 * on my (a transaction) or through the cache (my NULL), bound, run.
 * Whatever fails leaves q closed, with the server's error number kept
 * for callers that tell one failure from another (ER_DATA_TOO_LONG...).
 */
static enum store_rc sq_vrows(struct sq *, struct db *,
    const struct db_server *, MYSQL *, const struct sq_arg *, const char *,
    va_list) __attribute__((format(printf, 6, 0)));

static enum store_rc
sq_vrows(struct sq *q, struct db *db, const struct db_server *srv, MYSQL *my,
    const struct sq_arg *args, const char *fmt, va_list ap)
{
	char          sql[SQ_MAX_SQL];
	enum store_rc rc;
	unsigned int  err;
	int           n;

	memset(q, 0, sizeof(*q));
	if ((n = sq_vformat(sql, fmt, ap)) < 0)
		return STORE_ERR;
	rc = my != NULL ? sq_open_on(q, my, sql) : sq_open(q, db, srv, sql);
	if (rc == STORE_OK) {
		sq_bind(q, args);
		rc = sq_run(q);
	}
	if (rc != STORE_OK) {
		err = q->err;
		sq_close(q);
		q->err = err;
	}
	return rc;
}

/* The first row of what sq_vrows ran, or q closed (err kept). */
static enum store_rc
sq_first(struct sq *q, enum store_rc rc)
{
	unsigned int err;

	if (rc != STORE_OK)
		return rc;
	switch (sq_fetch(q)) {
	case 1:
		return STORE_OK;
	case 0:
		rc = STORE_NOTFOUND;
		break;
	default:
		rc = STORE_ERR;
		break;
	}
	err = q->err;
	sq_close(q);
	q->err = err;
	return rc;
}

enum store_rc
sq_do(struct db *db, const struct db_server *srv, const struct sq_arg *args,
    const char *fmt, ...)
{
	struct sq     q;
	va_list       ap;
	enum store_rc rc;

	va_start(ap, fmt);
	rc = sq_vrows(&q, db, srv, NULL, args, fmt, ap);
	va_end(ap);
	if (rc == STORE_OK)
		sq_close(&q);
	return rc;
}

enum store_rc
sq_do_on(MYSQL *my, const struct sq_arg *args, const char *fmt, ...)
{
	struct sq     q;
	va_list       ap;
	enum store_rc rc;

	va_start(ap, fmt);
	rc = sq_vrows(&q, NULL, NULL, my, args, fmt, ap);
	va_end(ap);
	if (rc == STORE_OK)
		sq_close(&q);
	return rc;
}

enum store_rc
sq_do_text_on(MYSQL *my, unsigned int *err, const char *fmt, ...)
{
	char       sql[SQ_MAX_SQL];
	MYSQL_RES *res;
	va_list    ap;
	int        n;

	*err = 0;
	va_start(ap, fmt);
	n = sq_vformat(sql, fmt, ap);
	va_end(ap);
	if (n < 0)
		return STORE_ERR;
	if (mysql_real_query(my, sql, (unsigned long)n) == 0) {
		/* Rows were not asked for: read and dropped, not left due. */
		if ((res = mysql_store_result(my)) != NULL) {
			mysql_free_result(res);
			return STORE_OK;
		}
		if (mysql_field_count(my) == 0)
			return STORE_OK;
	}
	/* A dead connection is the transaction's owner's to drop. */
	*err = mysql_errno(my);
	return sq_classify(my);
}

enum store_rc
sq_rows(struct sq *q, struct db *db, const struct db_server *srv,
    const struct sq_arg *args, const char *fmt, ...)
{
	va_list       ap;
	enum store_rc rc;

	va_start(ap, fmt);
	rc = sq_vrows(q, db, srv, NULL, args, fmt, ap);
	va_end(ap);
	return rc;
}

enum store_rc
sq_rows_on(struct sq *q, MYSQL *my, const struct sq_arg *args, const char *fmt,
    ...)
{
	va_list       ap;
	enum store_rc rc;

	va_start(ap, fmt);
	rc = sq_vrows(q, NULL, NULL, my, args, fmt, ap);
	va_end(ap);
	return rc;
}

enum store_rc
sq_one(struct sq *q, struct db *db, const struct db_server *srv,
    const struct sq_arg *args, const char *fmt, ...)
{
	va_list       ap;
	enum store_rc rc;

	va_start(ap, fmt);
	rc = sq_vrows(q, db, srv, NULL, args, fmt, ap);
	va_end(ap);
	return sq_first(q, rc);
}

enum store_rc
sq_one_on(struct sq *q, MYSQL *my, const struct sq_arg *args, const char *fmt,
    ...)
{
	va_list       ap;
	enum store_rc rc;

	va_start(ap, fmt);
	rc = sq_vrows(q, NULL, NULL, my, args, fmt, ap);
	va_end(ap);
	return sq_first(q, rc);
}

const char *
sq_ctl(const struct db *db)
{
	return db_config(db)->control_db;
}
