/*
 * sends: send health (doc/contract.md, JSON shapes: sends), what the
 * gateway's sends did, counted per UTC hour in the workspace's database
 * (send_hourly) with the last failure in Meta's words on the connection
 * row. Read back with the connection (store_conn_get, store_conn_page),
 * so neither the page nor status --json pays a round trip for it.
 *
 * Send health is not a ledger: a worker tallies its successful sends in
 * its own memory (struct send_tally) and writes them in one upsert per
 * workspace at most once a second (SEND_FLUSH_MS), after the answer has
 * gone out or when it sits idle, instead of one committed write per
 * send. A failure is written at once, with the tally: the page must say
 * so while it matters. A worker killed outright loses at most a
 * second's count.
 */
#ifndef WABA_SENDS_H
#define WABA_SENDS_H

#include "sql.h"
#include "workspaces.h"

struct db;

#define SEND_FLUSH_MS 1000
#define SEND_TALLY_WS 16 /* workspaces one worker tallies at once */

struct send_pending {
	struct workspace ws;       /* where to write; ws.id 0: free */
	long long        hour;     /* the UTC hour's start, unix seconds */
	long long        since_ms; /* the oldest count's CLOCK_MONOTONIC */
	unsigned long    ok;
};

struct send_tally {
	struct send_pending p[SEND_TALLY_WS];
};

/*
 * Counts one send that reached Meta: ok (tallied, written when due), or
 * failed with error (Meta's message, at most 500 bytes kept) as the
 * connection's last failure, written now with the tally.
 */
enum store_rc store_send_count(struct db *, struct send_tally *,
    const struct workspace *, int ok, const char *error);
/* Writes the tallies a second old (all: every one); errors are logged. */
void store_send_flush(struct db *, struct send_tally *, int all);
/* Milliseconds until a tally is due (0: now), -1 when none is held. */
long store_send_due_ms(const struct send_tally *);

#endif
