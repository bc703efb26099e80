/*
 * connection: a workspace's WhatsApp connection and catalog connection,
 * in the workspace's own database. Tokens are stored only as vault boxes
 * (key version, nonce, ciphertext) and leave this module only as boxes.
 */
#ifndef WABA_CONNECTION_H
#define WABA_CONNECTION_H

#include <stddef.h>
#include <stdint.h>

#include "monitor.h"
#include "outbox.h"
#include "sql.h"

struct db;
struct workspace;
struct vault;
struct vault_box;
struct num_row;

struct conn_row {
	char     status[32]; /* not_connected | pending_phone_selection | ... */
	char     reason[501];
	char     waba_id[33];
	char     waba_ids[1001];
	char     scopes[1001];
	int      has_token;
	uint32_t key_version;
	char     token_expires_at[32]; /* "YYYY-MM-DD HH:MM:SS" UTC or "" */
	long long token_expires_in;    /* seconds from now; 0 when unknown */
	char      phone_number_id[33];
	char      display_phone_number[65];
	char      verified_name[201];
	char      quality_rating[33];
	char      connected_at[32];
	char      last_verified_at[32];
	int       has_catalog;
	char      catalog_id[33];
	char      catalog_name[201];
	char      catalog_status[32];
	char      catalog_reason[501];
	/* Send health (sends.h): the last hour, and the last failure. */
	long long sends_ok_1h, sends_failed_1h;
	char      last_send_error[501]; /* Meta's words, "" when none */
	char      last_send_error_at[32];
};

enum store_rc store_conn_get(struct db *, const struct workspace *,
    struct conn_row *);
/*
 * For a Meta call: of store_conn_get's row only status, reason, waba_id,
 * phone_number_id, has_token and key_version (the rest zeroed), and the
 * WhatsApp token's box, in one statement.
 */
enum store_rc store_conn_get_box(struct db *, const struct workspace *,
    struct conn_row *, struct vault_box *);
/*
 * store_conn_get_box's columns, of the connection row aliased c, for a
 * statement that reads them with others (store_apikey_auth_conn), and
 * its reading of them from column i on: -1 only when out of memory (the
 * caller vault_box_frees b either way).
 */
#define STORE_CONN_BOX_COLS \
	"c.status, c.reason, c.waba_id, c.token_ct IS NOT NULL, " \
	"c.phone_number_id, c.token_key_version, c.token_nonce, c.token_ct"
int store_conn_box_row(const struct sq *, unsigned int i, struct conn_row *,
    struct vault_box *);

/* What the settings page shows, read in one statement. */
struct conn_page {
	struct conn_row conn;
	char test_detail[501];   /* the newest test message's audit entry */
	char test_at[32];        /* its time, "" when none */
	char hooks_last[32];     /* as store_wh_health's last */
	long hooks_24h;          /* and its count_24h */
	struct num_row *numbers; /* the default first; store_conn_page_free */
	size_t          nnumbers;
	/* The monitor's health row (has_row 0: never checked). */
	struct mon_health health;
	long long checked_unix; /* its checked_at as a unix time; 0: none */
	long long now_unix;     /* the database server's clock, likewise */
	/*
	 * The templates table (workspace v8) as JSON text, malloc'd, NULL
	 * when there are none: the count per status ({"APPROVED":3,...}),
	 * and the newest 20 REJECTED, PAUSED or DISABLED ones, each
	 * {"id","name","language","status","reason"}.
	 */
	char *tpl_counts, *tpl_troubled;
	/* The outbox at a glance (outbox.h), each count capped. */
	struct outbox_page outbox;
};

/*
 * The settings page's data in one round trip: store_conn_get's row,
 * the newest test_message audit entry, store_wh_health's counters, the
 * health row (as store_mon_health_get), the templates, the outbox's
 * counts (store_outbox_page_col) and the workspace's numbers (as
 * store_num_list). Free with store_conn_page_free, whatever the
 * outcome.
 */
enum store_rc store_conn_page(struct db *, const struct workspace *,
    struct conn_page *);
void          store_conn_page_free(struct conn_page *);
/*
 * A vault box from the current row's (version, nonce, ct) columns at
 * i..: a row whose version or nonce is missing or malformed still
 * becomes a box, marked damaged (the vault then says so, naming the
 * workspace). -1 only when out of memory; the caller vault_box_frees it.
 */
int store_conn_box_from_row(const struct sq *, unsigned int i,
    struct vault_box *);
/* The stored box of kind (VAULT_KIND_*); STORE_NOTFOUND when none. */
enum store_rc store_conn_token_get(struct db *, const struct workspace *,
    const char *kind, struct vault_box *);
/*
 * Stores a token obtained outside the OAuth flow (admin `token set`):
 * waba → the connection's token, status needs checking; catalog → the
 * catalog row for catalog_id.
 */
enum store_rc store_conn_token_put(struct db *, const struct workspace *,
    const char *kind, const struct vault_box *, const char *catalog_id,
    const char *actor);
/*
 * Re-encrypts every token of the workspace that is not on the vault's
 * current key version, in one transaction. *changed counts them.
 */
enum store_rc store_conn_rekey(struct db *, const struct workspace *,
    const struct vault *, int *changed, char *err, size_t errlen);
/*
 * The oldest and newest key version of the workspace's stored tokens
 * (0 and 0 when it has none): `keys rotate` uses them to tell an
 * unfinished rotation from a finished one.
 */
enum store_rc store_conn_version_span(struct db *, const struct workspace *,
    uint32_t *lo, uint32_t *hi);
/* Key versions still in use by this workspace's rows (bit i = version i+1, up to 64). */
enum store_rc store_conn_versions(struct db *, const struct workspace *,
    uint64_t *mask);
/* *used: whether any token of the workspace is on key version ver. */
enum store_rc store_conn_version_used(struct db *, const struct workspace *,
    uint32_t ver, int *used);
enum store_rc store_conn_audit(struct db *, const struct workspace *,
    const char *actor, const char *action, const char *detail);

/* What one OAuth round trip (or a reconnect) stores, in one transaction. */
struct conn_oauth {
	const struct vault_box *box;
	const char             *waba_ids; /* comma-separated, all granted */
	const char *waba_id; /* chosen, or NULL: the merchant picks */
	const char *scopes;
	int64_t     expires_at; /* unix time; 0 = does not expire */
	int         keep_phone; /* reconnect: the number is still there */
};

/* A phone number as shown and stored. */
struct conn_phone {
	const char *id;
	const char *display_phone_number;
	const char *verified_name;
	const char *quality_rating;
};

enum store_rc store_conn_save_oauth(struct db *, const struct workspace *,
    const struct conn_oauth *, const char *actor);
/* Picks one of the granted WABAs (STORE_NOTFOUND when not granted). */
enum store_rc store_conn_choose_waba(struct db *, const struct workspace *,
    const char *waba_id, const char *actor);
/*
 * Commits a transaction that wrote the workspace's connection row (or
 * what it mirrors: its default number), then tells the pool's API gate
 * (gate_conn_bump, meta_gate.h), whatever the commit answered.
 */
enum store_rc store_conn_commit(struct db *, MYSQL *, const struct workspace *);
/*
 * Inside a transaction of the workspace (numbers.c): the connection row
 * mirrors default number n, or no number (NULL), and its status follows.
 */
enum store_rc store_conn_default_on(MYSQL *, const struct workspace *,
    const struct num_row *);
/* needs_reconnect (or another status) with a reason for people. */
enum store_rc store_conn_mark(struct db *, const struct workspace *,
    const char *status, const char *reason);
/*
 * needs_reconnect for the token of this nonce (VAULT_NONCE_BYTES), the
 * one Meta refused: STORE_NOTFOUND, nothing changed, when another has
 * been stored since (a reconnect while the call was made, or after the
 * gate read it: app.h).
 */
enum store_rc store_conn_mark_token(struct db *, const struct workspace *,
    const char *reason, const unsigned char *nonce);
/*
 * After a successful Verify: expiry, scopes and the number's details;
 * connected (or pending_phone_selection) again, unless a restriction or
 * ban Meta reported still holds (*restricted 1: needs_reconnect with its
 * reason). Verify proves the token and the grant, nothing more; a
 * restriction whose end Meta gave has passed is forgotten here.
 */
enum store_rc store_conn_verified(struct db *, const struct workspace *,
    int64_t expires_at, const char *scopes, const struct conn_phone *,
    int *restricted);
/*
 * *restricted: whether a restriction or ban Meta reported holds the
 * connection at needs_reconnect now (a token, a reconnect, a number do
 * not lift it: only a later account_update, or the end Meta gave).
 */
enum store_rc store_conn_restricted(struct db *, const struct workspace *,
    int *restricted);
enum store_rc store_conn_disconnect(struct db *, const struct workspace *,
    const char *actor);
enum store_rc store_conn_catalog_save(struct db *, const struct workspace *,
    const char *catalog_id, const char *name, const struct vault_box *,
    const char *actor);
enum store_rc store_conn_catalog_mark(struct db *, const struct workspace *,
    const char *reason);
enum store_rc store_conn_catalog_delete(struct db *, const struct workspace *,
    const char *actor);

#endif
