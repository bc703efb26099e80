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
 * (or earlier in m) enqueues nothing and gives the first id back; an
 * older one is replaced. A few statements whatever n.
 */
enum store_rc store_outbox_enqueue(struct db *, const struct workspace *,
    struct outbox_new *m, size_t n);
enum store_rc store_outbox_get(struct db *, const struct workspace *,
    uint64_t id, struct outbox_row *);
/*
 * Cancels a queued (or paused) message, kept as `cancelled`: STORE_OK,
 * also when it was cancelled already; STORE_NOTFOUND when there is
 * none; STORE_DUP when it is past queued (*row says how it stands).
 */
enum store_rc store_outbox_cancel(struct db *, const struct workspace *,
    uint64_t id, struct outbox_row *row);

/* The queue at a glance (status --json "outbox"). */
struct outbox_glance {
	long long queued, sending, paused;
	long long sent_1h, failed_1h, unknown_1h; /* settled in the last hour */
};
enum store_rc store_outbox_glance(struct db *, const struct workspace *,
    struct outbox_glance *);

/*
 * The settings page's Outbox card, read as one column of
 * store_conn_page's statement (no round trip of its own). Its states
 * come in two families, each counted by one index range scan that stops
 * after OUTBOX_PAGE_SCAN rows, so a queue or an hour of any size costs a
 * view the same: now (paused, sending, queued, in that order) and the
 * last hour (unknown, failed, sent). A count is exact unless its
 * family's scan stopped in it (at least n) or before it (not counted):
 * the states that stay small come first.
 */
#define OUTBOX_PAGE_SCAN 1001
enum outbox_state {
	OBX_QUEUED,
	OBX_SENDING,
	OBX_PAUSED,
	OBX_SENT_1H,
	OBX_FAILED_1H,
	OBX_UNKNOWN_1H,
	OBX_NSTATES
};
enum outbox_count {
	OBX_EXACT,
	OBX_AT_LEAST, /* n or more: its family's scan stopped in it */
	OBX_UNCOUNTED /* the scan stopped before it: n is 0 */
};
struct outbox_page {
	long long         n[OBX_NSTATES];
	enum outbox_count how[OBX_NSTATES];
	/*
	 * Seconds the longest-waiting queued message has been due (since
	 * it was queued, or since its retry came due); -1: none queued,
	 * 0: every queued one waits for a later slot.
	 */
	long long wait_s;
	long long paused_s; /* since the oldest paused one was paused; -1 */
};
/*
 * The column's SQL (one JSON_OBJECT) into buf: -1 when it does not fit.
 * store_outbox_page_from reads the column's text back; -1 when it is
 * not the object the column makes.
 */
int store_outbox_page_col(char *buf, size_t len, const struct workspace *);
int store_outbox_page_from(const char *json, struct outbox_page *);

/* --- The sender's side (outbox_send.c) --------------------------------- */

/* One claimed message: marked sending, its send slot fixed. */
struct outbox_claim {
	uint64_t  id;
	char      to[141];
	char     *body;     /* malloc'd (outbox_claims_free) */
	unsigned  attempts; /* this one included */
	long long slot_us;  /* when to send it, the database's clock */
	uint64_t  claim;    /* this claim's token: its outcome must name it */
};

/* outbox.message_id's width (workspace schema v9). */
#define OUTBOX_MESSAGE_ID_MAX 128

/* What the claim of one number may take. */
struct outbox_want {
	const char *phone_number_id;
	int         is_default; /* also the rows without a from */
	unsigned    max;        /* at most this many */
	long long   gap_us;     /* between two sends of the number */
	long long   horizon_us; /* slots no later than now + lead + this */
	/*
	 * Slots no earlier than now + this: the time the claim's commit
	 * and hand-over take, or its first messages are late already.
	 */
	long long lead_us;
	long long pair_us; /* between two sends to one recipient */
};

/*
 * Claims up to want->max queued messages of one number in one short
 * transaction: the number's rate row is locked (FOR UPDATE SKIP LOCKED:
 * a number another sender is claiming for is skipped, *busy 1), the
 * rows taken FOR UPDATE SKIP LOCKED, each given the next send slot of
 * the number and of its recipient, and marked sending. A message whose
 * recipient's slot is later stays queued until then. *now_us is the
 * database's clock at the claim. out holds want->max entries; *n says
 * how many were claimed. When the commit's answer is lost (it may have
 * been applied) the rows are given back at once; when that fails too,
 * the answer is not STORE_OK with *n > 0: out's ids and claim may be
 * sending under that claim, and the caller gives them back later
 * (store_outbox_settle, OUTBOX_RELEASE), not claim_timeout_s after.
 */
enum store_rc store_outbox_claim(struct db *, const struct workspace *,
    const struct outbox_want *want, struct outbox_claim *out, size_t *n,
    long long *now_us, int *busy);
void          outbox_claims_free(struct outbox_claim *, size_t n);

/* A send's outcome, for store_outbox_settle. */
enum outbox_end {
	OUTBOX_SENT,    /* message_id is Meta's */
	OUTBOX_FAILED,  /* Meta refused it: error says why */
	OUTBOX_UNKNOWN, /* Meta may have sent it: never again */
	OUTBOX_RETRY,   /* Meta surely did not act: queued again */
	OUTBOX_PAUSE,   /* the token was refused: paused with the queue */
	OUTBOX_RELEASE  /* never sent (stopping): queued, attempt undone */
};

/* One outcome; strings borrowed. */
struct outbox_result {
	uint64_t        id;
	enum outbox_end end;
	const char     *message_id; /* SENT */
	const char     *phone;      /* the sending number */
	const char     *error;      /* why, for all but SENT */
	long long       retry_ms;   /* RETRY, RELEASE: wait this long */
	uint64_t        claim;      /* the claim's token (outbox_claim) */
	/*
	 * RELEASE of a message whose request never left (given back late,
	 * or stopping): its recipient's slot (outbox_pair) is given back
	 * too, while no later claim moved it, so the recipient does not
	 * wait pair_interval_ms for a message that was not sent. slot_us:
	 * the claim's slot (0: keep the pair's), pair_us: the interval.
	 */
	const char *to;
	long long   slot_us, pair_us;
};

/*
 * Settles n sending messages in one transaction; SENT and FAILED also
 * record their message_sent / message_failed event for the feed. A
 * message that is no longer sending under that claim (cancelled,
 * settled, claimed again since) is left alone.
 */
enum store_rc store_outbox_settle(struct db *, const struct workspace *,
    const struct outbox_result *r, size_t n);
/* Pushes a number's next slot (a 130429), or a pair's (131056), on. */
enum store_rc store_outbox_hold(struct db *, const struct workspace *,
    const char *phone_number_id, const char *to, long long us);
/* queued → paused (pause 1: the connection cannot send), or back. */
enum store_rc store_outbox_pause(struct db *, const struct workspace *,
    int pause, uint64_t *changed);
/* sending rows claimed more than age_s ago → unknown (a sender died). */
enum store_rc store_outbox_expire(struct db *, const struct workspace *,
    int age_s, uint64_t *changed);
/*
 * Whether anything is queued or paused, and whether a row has been
 * sending longer than stale_s (for store_outbox_expire): one cheap
 * look before claiming.
 */
enum store_rc store_outbox_pending(struct db *, const struct workspace *,
    int stale_s, int *queued, int *paused, int *stale);
/*
 * The workspace's active numbers, the default first: at most max; *more
 * set when it has others past them.
 */
enum store_rc store_outbox_numbers(struct db *, const struct workspace *,
    char (*ids)[33], int *is_default, size_t max, size_t *n, int *more);

#endif
