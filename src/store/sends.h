/*
 * sends: send health (doc/contract.md, JSON shapes: sends), what the
 * gateway's sends did, counted per UTC hour in the workspace's database
 * (send_hourly) with the last failure in Meta's words on the connection
 * row. Read back with the connection (store_conn_get, store_conn_page),
 * so neither the page nor status --json pays a round trip for it.
 */
#ifndef WABA_SENDS_H
#define WABA_SENDS_H

#include "sql.h"

struct db;
struct workspace;

/*
 * Counts one send that reached Meta: ok, or failed with error (Meta's
 * message, at most 500 bytes kept) as the connection's last failure.
 */
enum store_rc store_send_count(struct db *, const struct workspace *, int ok,
    const char *error);

#endif
