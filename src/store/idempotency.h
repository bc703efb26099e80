/*
 * idempotency: the first outcome of a POST /messages per Idempotency-Key
 * (doc/contract.md, Internal API: Idempotency), in the workspace's own
 * database (api_idempotency, migration v6), so that a client retrying
 * after a timeout is answered from here and Meta never sends twice.
 * A key is claimed by a short autocommitted INSERT of a running row
 * before Meta is called; the answer is kept (done) or the claim released
 * once the outcome is known. Rows older than IDEM_TTL_S count as absent.
 */
#ifndef WABA_IDEMPOTENCY_H
#define WABA_IDEMPOTENCY_H

#include <stddef.h>

#include "sql.h"

struct db;
struct workspace;

#define IDEM_KEY_MAX  64    /* bytes of an Idempotency-Key */
#define IDEM_HASH     32    /* SHA-256 of the request */
#define IDEM_TTL_S    86400 /* a kept outcome's life: 24 h */
#define IDEM_BODY_MAX 65535 /* TEXT: what an answer may be */

/* A key already claimed: what the first request left. */
struct idem_row {
	unsigned char hash[IDEM_HASH];
	int           done;   /* 0: running (its call may be under way) */
	int           status; /* done: the answer's HTTP status */
	char         *body;   /* done: its body, malloc'd (idem_row_free) */
	long long     age_s;  /* seconds since the claim */
};

/*
 * Claims key for the request whose hash is given: STORE_OK when this
 * request holds it now (a running row was inserted, or one older than
 * IDEM_TTL_S replaced); STORE_DUP when another holds it, with its row in
 * *row (idem_row_free it); else the store's failure.
 */
enum store_rc store_idem_claim(struct db *, const struct workspace *,
    const char *key, const unsigned char hash[IDEM_HASH], struct idem_row *row);
/* The claimed key's outcome, kept: status and body replayed later. */
enum store_rc store_idem_finish(struct db *, const struct workspace *,
    const char *key, int status, const char *body, size_t len);
/*
 * Gives the claim up (Meta was not called, or proved it did nothing), so
 * a retry with the key goes through. Only a running row is deleted.
 */
enum store_rc store_idem_release(struct db *, const struct workspace *,
    const char *key);
/*
 * Deletes keys older than IDEM_TTL_S, at most batch a statement, until
 * none is left (waba-connect-admin prune); *deleted counts them.
 */
enum store_rc store_idem_prune(struct db *, const struct workspace *,
    unsigned batch, unsigned long long *deleted);
void          idem_row_free(struct idem_row *);

#endif
