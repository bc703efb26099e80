/*
 * outbox: the messages queued by POST /api/v1/w/{slug}/outbox for the
 * sender (doc/contract.md, Internal API: Outbox), in the workspace's own
 * database (outbox, migration v9). Enqueued in one transaction per call;
 * read, cancelled and (by the sender) claimed and settled here only.
 */
#ifndef WABA_OUTBOX_STORE_H
#define WABA_OUTBOX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sql.h"

struct db;
struct workspace;

#define OUTBOX_CLIENT_MAX   64          /* bytes of a client_id */
#define OUTBOX_CLIENT_TTL_S (7 * 86400) /* a client_id's uniqueness */
#define OUTBOX_BATCH_MAX    1000        /* messages one POST takes */

/* One message to enqueue: strings borrowed from the caller. */
struct outbox_new {
	const char *client_id;
	const char *phone_number_id; /* NULL: the default number */
	const char *to;
	const char *body; /* the message object as JSON text */
	uint64_t    id;   /* out: its id (the first one's, for a repeat) */
	int         repeat; /* out: 1 when the client_id was there already */
};

/* One message as GET /outbox/{id} shows it. */
struct outbox_row {
	uint64_t id;
	char     client_id[OUTBOX_CLIENT_MAX + 1];
	char     state[16];
	char     message_id[129]; /* "" when none */
	char     error[1001];     /* "" when none */
	unsigned attempts;
	char     updated_at[24]; /* 2026-12-01T10:00:00Z */
};

/*
 * Enqueues the n messages of m in one transaction: all, or none (the
 * store's failure). A client_id seen in the last OUTBOX_CLIENT_TTL_S
 * enqueues nothing and gives the first id back (repeat 1); an older one
 * is replaced.
 */
enum store_rc store_outbox_enqueue(struct db *, const struct workspace *,
    struct outbox_new *m, size_t n);
enum store_rc store_outbox_get(struct db *, const struct workspace *,
    uint64_t id, struct outbox_row *);
/*
 * Cancels (deletes) a queued message: STORE_OK; STORE_NOTFOUND when
 * there is none; STORE_DUP when it is no longer queued (*row says how
 * it stands).
 */
enum store_rc store_outbox_cancel(struct db *, const struct workspace *,
    uint64_t id, struct outbox_row *row);

#endif
