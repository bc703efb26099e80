/*
 * retention: removes what a workspace keeps longer than
 * [webhooks] retention_days (stored webhook events and their hourly
 * counters), in small batches so that deliveries and pages running at
 * the same time never wait on a long delete.
 */
#ifndef WABA_RETENTION_STORE_H
#define WABA_RETENTION_STORE_H

#include <stdint.h>

#include "sql.h"

struct db;
struct workspace;

/* Rows one DELETE removes at most: one short transaction each. */
#define RETENTION_BATCH 1000

/* Called after each batch: the table and the rows it lost so far. */
typedef void (
    *store_wh_prune_report)(const char *table, uint64_t deleted, void *arg);

/*
 * Deletes ws's webhook events received, and hourly counter rows for
 * hours, before the start of the current UTC hour minus days days. The
 * cut is on an hour boundary so that every counter row left counts
 * exactly the events left in its hour. *events and *hours get the rows
 * deleted (also when a later batch fails). fn may be NULL.
 */
enum store_rc store_wh_prune(struct db *, const struct workspace *, int days,
    store_wh_prune_report fn, void *arg, uint64_t *events, uint64_t *hours);

#endif
