/*
 * store/monitor: the health monitor's rows (doc/architecture.md, The
 * health monitor). In the control database, one lease per workspace
 * (monitor_leases, control v5): when it is next due and who checks it
 * now, so that any number of monitors on any number of hosts check each
 * workspace at most once per interval. In the workspace's database, what
 * the last check found (health, workspace v7), with each change audited.
 */
#ifndef WABA_STORE_MONITOR_H
#define WABA_STORE_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "sql.h"

struct db;
struct workspace;

/* Every workspace without a lease gets one, due now. */
enum store_rc store_mon_seed(struct db *);
/*
 * Up to max ids of workspaces due and not held by anyone, the longest
 * due first, into ids; *n of them.
 */
enum store_rc store_mon_due(struct db *, uint64_t *ids, size_t max, size_t *n);
/*
 * Takes workspace id's lease for lease_s seconds in one UPDATE whose
 * WHERE says it is due (or force: the operator asked for it now) and
 * held by nobody, so of several monitors trying at once exactly one
 * wins: *claimed 1. A workspace without a lease row gets one first.
 */
enum store_rc store_mon_claim(struct db *, uint64_t id, const char *owner,
    long lease_s, int force, int *claimed);
/*
 * Gives the lease back. After a check that finished (failed 0) the
 * workspace is next due at its own point of the interval: phase_s
 * seconds into each interval_s, so the workspaces are spread over the
 * interval and each is checked once per interval, at least interval_s
 * / 2 from now. After a check Meta failed (failed 1) it is due again
 * after 1, 2, 4... minutes (the failures in a row), never later than
 * one interval. Only owner's lease is given back.
 */
enum store_rc store_mon_release(struct db *, uint64_t id, const char *owner,
    int failed, long interval_s, long phase_s);
/*
 * As store_mon_release, for a check the merchant asked for (Check now):
 * the lease's end stays where store_mon_claim put it, so nobody (no
 * other press, no monitor) claims the workspace again before then. Its
 * length is the rate limit.
 */
enum store_rc store_mon_release_held(struct db *, uint64_t id,
    const char *owner, int failed, long interval_s, long phase_s);
/*
 * Workspace id is due now (Meta lifted a restriction: the next check,
 * not the webhook, restores the connection). No lease row: nothing
 * (store_mon_seed makes one due now anyway).
 */
enum store_rc store_mon_due_now(struct db *, uint64_t id);
/* The lease's next_check_at ("" when none) and failures in a row. */
enum store_rc store_mon_lease_get(struct db *, uint64_t id, char next[32],
    int *failures);

/* One health row. Strings "" when unknown; the ints -1. */
struct mon_health {
	int   has_row;
	char  checked_at[32]; /* "YYYY-MM-DD HH:MM:SS" UTC */
	char  can_send[16];   /* AVAILABLE, LIMITED, BLOCKED */
	char  messaging_limit[33];
	char  quality_rating[33];
	char  name_status[33];
	char  throughput[33];
	char  token_expires_at[32];
	int   webhook_ok, subscription_ok;
	char *warnings;         /* a JSON array's text, malloc'd; NULL: []. Read
	                   from the row: the check's and the webhooks'
	                   (store/trouble.h), as people are shown them */
	char *checked_warnings; /* read: the check's alone */
	char *hook_warnings;    /* read: the webhooks' (with their keys) */
	char  last_error[501];
	char  last_error_at[32];
};

/* What store_mon_health_save changed (bits), for events and logs. */
enum mon_change {
	MON_CH_CAN_SEND = 0x1,
	MON_CH_QUALITY = 0x2,
	MON_CH_LIMIT = 0x4,
	MON_CH_NAME = 0x8,
	MON_CH_HOOKS = 0x10, /* webhook_ok or subscription_ok */
	MON_CH_WARNINGS = 0x20
};

/*
 * The health row's columns of a table aliased h, STORE_MON_NCOLS of
 * them, for a statement that reads more (store_conn_page); the row at
 * column i into h with store_mon_from_row (has_row 1; free h).
 */
#define STORE_MON_NCOLS 13
const char   *store_mon_cols(void);
enum store_rc store_mon_from_row(const struct sq *, unsigned int i,
    struct mon_health *);
/* ws's row into h (has_row 0 when never checked); free with
   store_mon_health_free, whatever the outcome. */
enum store_rc store_mon_health_get(struct db *, const struct workspace *,
    struct mon_health *);
void          store_mon_health_free(struct mon_health *);
/*
 * status --json's one read of both: the health row (as
 * store_mon_health_get) and store_wh_health's webhook counters, in one
 * round trip.
 */
enum store_rc store_mon_status(struct db *, const struct workspace *,
    struct mon_health *, char last[32], long *count_24h);
/*
 * A check that finished: h's values (checked_at now, last_error
 * cleared), one audit entry ("health", actor "monitor") saying what
 * changed from the row before, and the events feed's events for it, in
 * one transaction: phone_quality (the default number's quality
 * changed), connection "expiring" (a token_expiring warning appeared),
 * "at_risk" (other warnings appeared where there were none), "restored"
 * (they all went). *changed: MON_CH_*.
 */
enum store_rc store_mon_health_save(struct db *, const struct workspace *,
    const struct mon_health *h, unsigned *changed);
/*
 * A check that could not finish (Meta unreachable, ...): why, keeping
 * the values of the last one that did; audited when it was passing.
 */
enum store_rc store_mon_health_failed(struct db *, const struct workspace *,
    const char *why);
/*
 * Messages the gateway sent successfully in the last minutes (send_hourly,
 * by whole UTC hours), and whether a webhook reached us in that time.
 */
enum store_rc store_mon_sends(struct db *, const struct workspace *,
    int minutes, long *ok, int *webhook_seen);

#endif
