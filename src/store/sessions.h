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

#define SESSION_HASH_BYTES 32

struct session_row {
	uint64_t	 user_id;
	char		 email[255];
	char		 csrf[65];	/* hex, compared in constant time */
};

enum store_rc	 sessions_create(struct db *,
		    const unsigned char hash[SESSION_HASH_BYTES], uint64_t user,
		    const char *csrf);
/*
 * The live session with that hash (STORE_NOTFOUND when absent or past
 * its idle or absolute expiry). Slides the idle expiry forward.
 */
enum store_rc	 sessions_get(struct db *,
		    const unsigned char hash[SESSION_HASH_BYTES],
		    struct session_row *);
enum store_rc	 sessions_delete(struct db *,
		    const unsigned char hash[SESSION_HASH_BYTES]);
/* Failed sign-ins in the last `minutes`, by email and by client address. */
enum store_rc	 sessions_failures(struct db *, const char *email,
		    const char *addr, int minutes, int *by_email, int *by_addr);
enum store_rc	 sessions_fail(struct db *, const char *email,
		    const char *addr);

#endif
