/*
 * db: the worker's MySQL connections, one per database server it has
 * used (the control DB's server, and any server a workspace lives on).
 * No MYSQL_OPT_RECONNECT: a lost connection is noticed, reopened once,
 * and only work that is safe to repeat is retried (doc/architecture.md,
 * Processes).
 */
#ifndef WABA_DB_H
#define WABA_DB_H

#include <stddef.h>

#include <mysql.h>

struct config;

/*
 * Where a database lives; an empty host and socket mean the control server.
 * host may list several "host[:port]" entries, comma-separated, for one
 * logical server (the nodes of a Galera cluster, say): connections go to
 * the first that answers, in order (src/hostlist.h).
 */
struct db_server {
	char         host[256];
	unsigned int port;
	char         socket[256];
};

struct db;

struct db *db_new(const struct config *);
void       db_free(struct db *);
/*
 * The connection to srv (NULL: the control DB's server), opened when
 * needed. NULL with a message in err when the server cannot be reached.
 */
MYSQL *db_conn(struct db *, const struct db_server *, char *err, size_t errlen);
/*
 * db_conn without the ping before a kept connection's first use in this
 * request, for a caller that proves the connection with a statement it
 * can repeat: a read that, should the connection turn out dead, runs
 * once more on a new one (sq_open_read). Its success counts as the
 * ping for the rest of the request; its failure drops the connection.
 */
MYSQL *db_conn_unchecked(struct db *, const struct db_server *, char *err,
    size_t errlen);
/*
 * The worker's prepared statements, kept per connection
 * (doc/architecture.md, Processes): the same SQL text on the same
 * connection is prepared once, while the cache (bounded by its size,
 * least recently used out first) keeps it. Returns a statement ready to
 * bind and execute, or NULL with the server's error number in *err (0:
 * out of memory). *cached says whose it is: the cache's, held until
 * db_stmt_done and closed with its connection; or the caller's, to
 * close, when the cache's statement of this text is held already, or
 * it is not kept (too large, every entry held), or there is no cache
 * (a NULL db: a connection db_of does not know).
 */
MYSQL_STMT *db_stmt(struct db *, MYSQL *, const char *sql, unsigned int *err,
    int *cached);
void        db_stmt_done(struct db *, MYSQL_STMT *);
/*
 * Whatever is still held is released (what a request forgot to close is
 * not held into the next): db_request_begin, and loops that have no
 * requests (the sender's database thread) at each round.
 */
void db_stmt_release(struct db *);
/* The db whose connection my is (NULL for one it did not open). */
struct db *db_of(MYSQL *my);
/* A new request: each connection is checked once before its first use. */
void db_request_begin(struct db *);
/* Forgets a connection, so the next db_conn reopens it. */
void db_drop(struct db *, MYSQL *);
/*
 * db_drop for a connection that was lost (db_is_gone): its host is
 * tried last for a while, so the next db_conn goes to the next entry
 * of the server's host list at once instead of back to a dead node.
 */
void db_lost(struct db *, MYSQL *);
/* 1 when a server error number means the connection is of no more use. */
int db_errno_gone(unsigned int);
/* 1 when the last error on my means the server went away. */
int db_is_gone(MYSQL *);
/* The config the connections were opened with. */
const struct config *db_config(const struct db *);
/* Pings the control server, reconnecting once; 0 when it answers. */
int db_ping(struct db *, char *err, size_t errlen);

/*
 * Each node of srv's host list (NULL: the control server's), on a
 * connection of its own: fn(arg, "host:port", detail, ok) with detail
 * the error, or the Galera node's wsrep_local_state_comment ("Synced";
 * "" for a server without Galera). Returns the number of nodes, 0 for
 * a socket or a single host (nothing beyond db_ping to say), -1 when
 * the list does not parse.
 */
typedef void (
    *db_node_fn)(void *arg, const char *node, const char *detail, int ok);
int db_nodes(struct db *, const struct db_server *srv, db_node_fn fn,
    void *arg);

#endif
