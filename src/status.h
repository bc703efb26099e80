/*
 * status: a workspace's connection as one JSON object (doc/contract.md,
 * JSON shapes: `status --json`), built in one place for the admin
 * tool's `status --json` and the API's GET /connection, so the two can
 * never disagree.
 */
#ifndef WABA_STATUS_H
#define WABA_STATUS_H

#include "store/sql.h"
#include "store/workspaces.h"

struct db;
struct json_object;

/*
 * Reads the connection, its numbers and the webhook health of ws and
 * builds the object into *out (the caller's: json_object_put). STORE_ERR
 * also when out of memory; the store has logged any database failure.
 */
enum store_rc status_object(struct db *, const struct workspace *,
    struct json_object **out);

#endif
