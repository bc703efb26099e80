/*
 * numbers: the phone numbers a workspace uses (doc/contract.md, Workspace
 * database: phone_numbers), in the workspace's own database. One of them,
 * once registered, is the default sender; the connection row mirrors the
 * default's id and details, written in the same transaction, so that
 * everything that reads "the number" of a connection reads the default.
 */
#ifndef WABA_NUMBERS_H
#define WABA_NUMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "sql.h"

struct db;
struct workspace;
struct vault;
struct vault_box;

/* Where a number is on its way to sending (phone_numbers.state). */
#define NUM_ACTIVE          "active"     /* registered: it sends */
#define NUM_UNVERIFIED      "unverified" /* needs its SMS/voice code */
#define NUM_PENDING_NAME    "pending_display_name" /* Meta reviews */
#define NUM_REGISTER_FAILED "register_failed"      /* say why, retry */

/*
 * Meta's throughput for a number also on the WhatsApp Business app
 * (coexistence): 20 messages a second, whatever its tier; other Cloud
 * API numbers send at the throughput Meta gives them (80 a second by
 * default, more once Meta raises it), which is Meta's to enforce.
 */
#define NUM_COEX_MPS 20

/* The one-time coexistence syncs (POST /{phone}/smb_app_data). */
#define NUM_SYNC_STATE   "smb_app_state_sync" /* contacts */
#define NUM_SYNC_HISTORY "history"            /* its chats */

struct num_row {
	char id[33];
	char waba_id[33];
	char display_phone_number[65];
	char verified_name[201];
	char quality_rating[33];
	char status[65]; /* Meta's "status", may be "" */
	char code_verification_status[33];
	char messaging_limit[33];
	char state[32];         /* NUM_* */
	char state_detail[501]; /* for people, "" when none */
	char retry_after[32];   /* UTC, "" when none */
	int  is_default;
	int  coexistence;         /* also on the WhatsApp Business app */
	int  max_mps;             /* for the sender: NUM_COEX_MPS for
					   coexistence, 0 = Meta's limit */
	char synced_state_at[32]; /* coexistence syncs, "" = not run */
	char synced_history_at[32];
	char added_at[32];
};

/* What adding a number stores. */
struct num_add {
	const char *id;
	const char *waba_id;
	const char *display_phone_number;
	const char *verified_name;
	const char *quality_rating;
	const char *status;
	const char *code_verification_status;
	const char *messaging_limit;
	const char *state;         /* NUM_* */
	const char *state_detail;  /* NULL: none */
	int         retry_seconds; /* 0: no retry time */
	int         coexistence;
	/* The PIN (VAULT_KIND_PIN) while registration waits; NULL wipes it. */
	const struct vault_box *pin;
};

/*
 * For a statement that reads the numbers beside other columns (the
 * settings page, store_conn_page): the NUM_NCOLS columns, each prefixed
 * with "alias.", and one number from the row's columns i.. (an absent
 * number, a LEFT JOIN's NULLs, has an empty id).
 */
#define NUM_NCOLS 16
int  store_num_cols(char *buf, size_t len, const char *alias);
void store_num_from_row(const struct sq *, unsigned int i, struct num_row *);
/*
 * All numbers of the workspace, the default first, then in the order
 * they were added; *list is malloc'd (free()), NULL when *n is 0.
 */
enum store_rc store_num_list(struct db *, const struct workspace *,
    struct num_row **list, size_t *n);
/* One number (STORE_NOTFOUND when the workspace does not use it). */
enum store_rc store_num_get(struct db *, const struct workspace *,
    const char *id, struct num_row *);
/*
 * Adds a number, or updates the one already there (adding again after a
 * failure). An active number becomes the default when there is none,
 * and the connection is then connected (or held at needs_reconnect by a
 * restriction Meta reported). *made_default says which.
 */
enum store_rc store_num_put(struct db *, const struct workspace *,
    const struct num_add *, const char *actor, int *made_default);
/*
 * Meta's current details of a number the workspace uses (Verify, the
 * health monitor); the connection's mirror follows for the default.
 */
enum store_rc store_num_refresh(struct db *, const struct workspace *,
    const struct num_add *);
/* Makes an active number the default (STORE_NOTFOUND: not usable). */
enum store_rc store_num_default(struct db *, const struct workspace *,
    const char *id, const char *actor);
/*
 * Stops using a number. When it was the default, the oldest other
 * active number becomes the default; with none left the connection
 * waits for a number (pending_phone_selection).
 */
enum store_rc store_num_remove(struct db *, const struct workspace *,
    const char *id, const char *actor);
/* The stored PIN of a waiting number (STORE_NOTFOUND: none kept). */
enum store_rc store_num_pin(struct db *, const struct workspace *,
    const char *id, struct vault_box *);
/*
 * Key rotation, inside the open transaction on my of the workspace's
 * server (store_conn_rekey): every kept PIN not on the vault's current
 * version is re-encrypted; *changed counts them.
 */
enum store_rc store_num_rekey_on(MYSQL *, const struct workspace *,
    const struct vault *, int *changed, char *err, size_t errlen);
/*
 * The ids of the workspace's numbers, comma-separated, for the webhook
 * routes (STORE_ERR if they do not fit in len).
 */
enum store_rc store_num_ids(struct db *, const struct workspace *, char *ids,
    size_t len);
/*
 * Records that a coexistence sync (sync_type NUM_SYNC_STATE or
 * NUM_SYNC_HISTORY) ran for the number; STORE_DUP when it already had
 * (or the number is not the workspace's any more).
 */
enum store_rc store_num_synced(struct db *, const struct workspace *,
    const char *id, const char *sync_type, const char *actor);

#endif
