/*
 * events: the workspace's stored events read in id order for the events
 * feed (GET /api/v1/w/{slug}/events, doc/contract.md, Internal API), and
 * the events of ours (connection, the monitor's phone_quality) written
 * beside Meta's.
 */
#ifndef WABA_EVENTS_STORE_H
#define WABA_EVENTS_STORE_H

#include <stdint.h>

#include "sql.h"

struct db;
struct workspace;

/*
 * One stored event; every string is borrowed from the statement (valid
 * until the next store_ev_next or sq_close), NULL when SQL NULL. object,
 * metadata and contact are JSON text (what Meta sent, or a connection
 * event's object); NULL object: a row stored before schema v6, which
 * the caller rebuilds from the typed columns (message_id, status, from,
 * body, event_at: Unix time, 0 when absent).
 */
struct ev_row {
	uint64_t    id;
	const char *kind; /* message, status, error, account_update, echo,
	                     state_sync, history, template_status,
	                     phone_quality, Meta's other trouble fields by
	                     name (store/trouble.h), connection */
	const char *received_at; /* 2025-12-01T10:00:00Z */
	const char *waba_id, *phone_number_id;
	const char *object, *metadata, *contact;
	const char *message_id, *status, *from, *body;
	long long   event_at;
};

/*
 * The events with id > after, at most limit, in id order, into q (read
 * them with store_ev_next, then sq_close). A locking read: it waits for
 * a delivery still being stored, so an event with a lower id can never
 * commit after a client has read past it.
 */
enum store_rc store_ev_list(struct db *, const struct workspace *,
    uint64_t after, unsigned limit, struct sq *q);
/* 1: r is the next row; 0: no more. */
int store_ev_next(struct sq *q, struct ev_row *r);
/*
 * Inside a transaction that holds the connection row (FOR UPDATE):
 * records a "connection" event {"state":state[,"reason":reason]} for the
 * feed. Its dedup_key names the state and the connection event before
 * it, so writing the same change twice (two workers that both saw
 * Meta's 190) stores it once.
 */
enum store_rc store_ev_connection_on(MYSQL *, const struct workspace *,
    const char *state, const char *reason);
/*
 * The same for the catalog's token refused by Meta (190): a "connection"
 * event {"state":"needs_reconnect","reason","access":"catalog"}.
 */
enum store_rc store_ev_catalog_on(MYSQL *, const struct workspace *,
    const char *reason);

/*
 * Inside a transaction: one event of ours of type kind (connection,
 * phone_quality, template_status, ...) whose object is the JSON text
 * object, status and body its typed columns (NULL: none), for number
 * phone (NULL: the connection's default). key names the change
 * ("expiring", "q:<number>:<rating>", ...): the same key twice with no
 * event of ours between them is stored once (a duplicate is STORE_OK).
 */
enum store_rc store_ev_emit_on(MYSQL *, const struct workspace *,
    const char *kind, const char *key, const char *status, const char *phone,
    const char *body, const char *object);

#endif
