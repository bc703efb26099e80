/*
 * oauth: the single-use `state` of the OAuth round trip
 * (doc/architecture.md, The OAuth round trip), stored by hash with the
 * workspace and the session that started it.
 */
#ifndef WABA_OAUTH_STORE_H
#define WABA_OAUTH_STORE_H

#include <stdint.h>

#include "sessions.h"
#include "sql.h"

struct db;

enum store_rc store_oauth_put(struct db *, const unsigned char hash[32],
    uint64_t workspace, const unsigned char session[32], int ttl_seconds);
/*
 * Takes the state: STORE_OK with its workspace when it exists, has not
 * expired and belongs to session; it is deleted either way, so it can
 * be used once. STORE_NOTFOUND otherwise.
 */
enum store_rc store_oauth_take(struct db *, const unsigned char hash[32],
    const unsigned char session[32], uint64_t *workspace);

#endif
