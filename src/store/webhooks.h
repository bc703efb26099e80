/*
 * webhooks: Meta's deliveries, stored in the workspace's database once
 * each (Meta redelivers until it gets a 200, so the same message or
 * status arrives more than once), and what the settings page shows of
 * them.
 */
#ifndef WABA_WEBHOOKS_STORE_H
#define WABA_WEBHOOKS_STORE_H

#include <stddef.h>

#include "sql.h"

struct db;
struct workspace;
struct webhook_event;

/*
 * Stores the n events of one delivery that belong to ws, in one
 * transaction; *stored counts the ones not seen before. What an
 * account_update event changes happens in that same transaction and
 * only when the event is new (a redelivery of an old removal must not
 * undo a reconnect made since): it is written to the audit log, and
 * when loss[i] is not NULL the connection turns needs_reconnect with
 * loss[i] as its reason. loss may be NULL (no losses).
 */
enum store_rc store_wh_save(struct db *, const struct workspace *,
    const struct webhook_event *const *, const char *const *loss, size_t n,
    int *stored);
/*
 * When the last event was stored ("" never), and how many in the last
 * 24 hours counted by whole UTC hours (the current one and the 23
 * before it), read from the hourly counters store_wh_save() keeps.
 */
enum store_rc store_wh_health(struct db *, const struct workspace *,
    char last[32], long *count_24h);
/*
 * store_wh_health's two columns (last, count_24h) as select
 * expressions, for a statement that reads them along with other data
 * (store_conn_page). -1 when buf is too small.
 */
int store_wh_health_cols(char *buf, size_t len, const struct workspace *);

#endif
