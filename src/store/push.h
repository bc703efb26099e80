/*
 * store_push_*: the push of each workspace's events to the SaaS (push.c):
 * its cursor, the lease that lets one pusher at a time hold a workspace
 * (its events then go out in order whatever the number of pools), and
 * the failures with the backoff (control DB, push_state).
 */
#ifndef WABA_PUSH_STORE_H
#define WABA_PUSH_STORE_H

#include <stdint.h>

#include "sql.h"

struct db;
struct workspace;

struct push_row {
	uint64_t  last_event_id;
	unsigned  failures;
	long long retry_in_ms; /* > 0: a failure's backoff still runs */
	char      last_error[256];
	char      last_error_at[24];
};

/*
 * Takes (or renews) the workspace's lease for lease_s unless another
 * pusher holds it or its backoff still runs; *claimed 1 and *cursor the
 * last acknowledged event's id when taken.
 */
enum store_rc store_push_claim(struct db *, uint64_t ws, const char *owner,
    long lease_s, int *claimed, uint64_t *cursor);
/* The receiver took the events up to last_id: the cursor moves on. */
enum store_rc store_push_done(struct db *, uint64_t ws, const char *owner,
    uint64_t last_id);
/*
 * A push failed (why: for status --json, no secret in it): the next try
 * waits 2^failures seconds, at most max_backoff_s, and the lease is let
 * go so any pusher may take it then.
 */
enum store_rc store_push_failed(struct db *, uint64_t ws, const char *owner,
    const char *why, long max_backoff_s);
/* The row for status --json; STORE_NOTFOUND: nothing pushed yet. */
enum store_rc store_push_get(struct db *, uint64_t ws, struct push_row *);
/* Events after `after` in ws's database, counted up to cap. */
enum store_rc store_push_pending(struct db *, const struct workspace *,
    uint64_t after, long long cap, long long *n);
/* The highest event id in ws's database (0: none). */
enum store_rc store_push_last_event(struct db *, const struct workspace *,
    uint64_t *id);

#endif
