/*
 * apikey: the format of the internal API's keys (doc/contract.md,
 * Internal API) and the pure helpers around it: making one, reading it
 * from an Authorization header, hashing it, and the scope names. No
 * database here (store/apikeys.c keeps the hashes), so every rule of the
 * format is unit-tested on its own.
 *
 * A key is "wck_" and 64 lowercase hex digits: 32 bytes (256 bits) from
 * randombytes_buf. Hex rather than base64url so that each key has one
 * spelling only (43 base64url characters carry 258 bits, so four strings
 * decode to the same bytes), the same length always, and no character a
 * shell, a URL or a double-click treats specially. The prefix makes a
 * leaked key recognisable to a person and to secret scanners.
 */
#ifndef WABA_APIKEY_H
#define WABA_APIKEY_H

#include <stddef.h>

#define APIKEY_PREFIX       "wck_"
#define APIKEY_PREFIX_LEN   4
#define APIKEY_RANDOM_BYTES 32
#define APIKEY_LEN          (APIKEY_PREFIX_LEN + 2 * APIKEY_RANDOM_BYTES)
#define APIKEY_HASH_BYTES   32 /* SHA-256 */
/* What list shows of a key: the prefix and 8 hex digits (32 bits). */
#define APIKEY_SHOWN_LEN (APIKEY_PREFIX_LEN + 8)
#define APIKEY_NAME_MAX  64

/* The scopes, one bit each; the names are apikey_scope_name's. */
#define APIKEY_SCOPE_CONNECTION_READ 0x01
#define APIKEY_SCOPE_MESSAGES_SEND   0x02
#define APIKEY_SCOPE_TEMPLATES_READ  0x04
#define APIKEY_SCOPE_TEMPLATES_WRITE 0x08
#define APIKEY_SCOPE_MEDIA_WRITE     0x10
#define APIKEY_SCOPE_CATALOG_WRITE   0x20
#define APIKEY_SCOPE_EVENTS_READ     0x40
#define APIKEY_NSCOPES               7

/*
 * A new key in out (APIKEY_LEN characters and a NUL). The caller wipes
 * it (sodium_memzero) once it has been shown. libsodium must be
 * initialised.
 */
void apikey_new(char out[APIKEY_LEN + 1]);
/* 1 when s (len bytes) is a key of the format above, else 0. */
int apikey_valid(const char *s, size_t len);
/*
 * The key of an Authorization header value: "Bearer" (any case, RFC
 * 7235 §2.1), one or more spaces, a well-formed key, nothing after it
 * (RFC 6750 §2.1). Returns the key inside hdr, or NULL when hdr is NULL
 * or any of that does not hold: a malformed header and an unknown key
 * get the same answer, so the caller need not tell them apart.
 */
const char *apikey_from_header(const char *hdr);
/*
 * SHA-256 of the whole key. The key is 256 uniformly random bits, so
 * nothing is gained by a slow password hash (there is no dictionary to
 * slow down) nor by a secret key on the hash: a copy of the table
 * cannot be turned back into a key, and the keys stay independent of
 * the key ring, whose rotation or loss must not end them.
 */
void apikey_hash(const char *key, unsigned char out[APIKEY_HASH_BYTES]);
/* The first APIKEY_SHOWN_LEN characters of key, for list. */
void apikey_shown(const char *key, char out[APIKEY_SHOWN_LEN + 1]);
/* 1 when name is 1 to 64 of A-Z a-z 0-9 . _ -, else 0. */
int apikey_name_valid(const char *name);
/* "connection:read"... for one APIKEY_SCOPE_ bit; NULL for anything else. */
const char *apikey_scope_name(unsigned bit);
/* The bit of a scope name; 0 when it is not one. */
unsigned apikey_scope_bit(const char *name);
/*
 * A comma-separated list of scope names (the --scopes operand, or the
 * SET column as the database gives it) into *mask. -1 on an unknown or
 * empty name, with the offending one copied into bad when bad is not
 * NULL; the empty list is an error too.
 */
int apikey_scopes_parse(const char *list, unsigned *mask, char *bad,
    size_t badlen);
/*
 * The scopes of mask as a comma-separated list in the order above (the
 * database's SET order). Returns 0, or -1 when it does not fit.
 */
int apikey_scopes_format(unsigned mask, char *out, size_t len);

#endif
