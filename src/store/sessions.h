/*
 * sessions: signed-in sessions and failed sign-in attempts, in the
 * control database. Sessions are stored by the SHA-256 of their id, so a
 * leaked table cannot be replayed as cookies.
 */
#ifndef WABA_SESSIONS_H
#define WABA_SESSIONS_H

#include <stdint.h>

#include "sql.h"

struct db;
struct workspace;

#define SESSION_HASH_BYTES 32

struct session_row {
	uint64_t user_id;
	char     email[255];
	char     csrf[65]; /* hex, compared in constant time */
};

enum store_rc store_sess_create(struct db *,
    const unsigned char hash[SESSION_HASH_BYTES], uint64_t user,
    const char *csrf);
/*
 * The gate in front of signed-in pages, in one statement: the live
 * session with that hash (STORE_NOTFOUND when absent or past its idle
 * or absolute expiry), its user, and, when slug is not NULL and that
 * user is a member of the workspace with that slug, the workspace in
 * *ws with *member 1 (else *member 0 and *ws untouched; ws and member
 * may be NULL). Slides the idle expiry forward, at most once a minute:
 * the one page view a minute that slides it costs a second statement.
 */
enum store_rc store_sess_gate(struct db *,
    const unsigned char hash[SESSION_HASH_BYTES], const char *slug,
    struct session_row *, struct workspace *, int *member);
enum store_rc store_sess_delete(struct db *,
    const unsigned char hash[SESSION_HASH_BYTES]);
#define SESSION_DEVICE_BYTES 16 /* a device cookie's nonce */

/* Failures in the window, this attempt included. */
struct store_sess_counts {
	int by_email;  /* from untrusted clients, for this email */
	int by_addr;   /* from untrusted clients, at this address */
	int by_device; /* from this device (0 without one) */
};

/*
 * Records a sign-in attempt as a failure first, then counts the failures
 * of the last `minutes`, this one included: of any number of attempts
 * racing each other, only those that fit under a limit see a count under
 * it. device is the nonce of a valid device cookie, or NULL for an
 * untrusted client. *id names the row for store_sess_attempt_forget().
 */
enum store_rc store_sess_attempt(struct db *, const char *email,
    const char *addr, const unsigned char *device, int minutes, uint64_t *id,
    struct store_sess_counts *);
/* Takes back an attempt that was not a failure (signed in, or throttled). */
enum store_rc store_sess_attempt_forget(struct db *, uint64_t id);

#endif
