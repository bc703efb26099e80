/*
 * vault: encryption of the Meta access tokens stored in workspace
 * databases (doc/architecture.md, Storage).
 *
 * A key ring file (mode 0600, never in the database) holds versioned
 * 32-byte master keys, one "VERSION BASE64KEY" line each, versions
 * strictly increasing; the highest is the current one and encrypts new
 * tokens. Each workspace's key is derived from a master key and the
 * workspace id (crypto_kdf_derive_from_key, context "wabatokn"), and the
 * associated data binds a ciphertext to its workspace, its kind and its
 * key version, so a box copied into another row fails to decrypt instead
 * of yielding another workspace's token.
 *
 * Rotation is two steps: vault_ring_add() appends a new version, then the
 * caller re-encrypts every row with vault_reencrypt(). Rows record their
 * key version, so an interrupted rotation can simply be run again; only
 * when no row uses a version any more may vault_ring_drop() remove it.
 *
 * An opened vault is read-only: it may be shared by threads (but see
 * vault_refresh). Error
 * messages never contain key material or plaintext.
 */
#ifndef WABA_VAULT_H
#define WABA_VAULT_H

#include <stddef.h>
#include <stdint.h>

#define VAULT_NONCE_BYTES  24
#define VAULT_KIND_WABA    "waba"
#define VAULT_KIND_CATALOG "catalog"
/* A number's two-step verification PIN, kept only while its registration
   waits for Meta (a display name in review) and wiped once it is done. */
#define VAULT_KIND_PIN "pin"

struct vault; /* an opened key ring */

/* One stored secret, as it goes to/comes from the database row. */
struct vault_box {
	uint32_t       key_version;
	unsigned char  nonce[VAULT_NONCE_BYTES];
	unsigned char *ct; /* ciphertext || tag, malloc'd, owned by the box */
	size_t         ctlen;
	/*
	 * Set by whoever read the box from storage when the row's version
	 * or nonce was missing or malformed: such a box never decrypts, and
	 * vault_decrypt says so with the workspace, as for any bad box.
	 */
	int damaged;
};

/*
 * Plaintext secret: sodium_malloc'd, NUL-terminated for convenience (len
 * excludes the NUL); wipe with vault_secret_free.
 */
struct vault_secret {
	char  *data;
	size_t len;
};

int vault_sodium_init(void); /* sodium_init wrapper; 0 ok */
/*
 * Creates a new key ring file with version 1 (O_CREAT|O_EXCL, mode 0600).
 * Fails if it exists. The file starts with a comment explaining itself.
 */
int vault_ring_init(const char *path, char *err, size_t errlen);
/*
 * Appends a new key version to the ring file atomically (write temp file
 * 0600 in same dir, fsync, rename); the new file keeps the old one's
 * owner and group (root may rewrite the ring of the user the pool serves
 * as). Returns the new version in *newver.
 * Comments and existing lines are kept byte for byte; a ring with no key
 * yet gets version 1. newver may be NULL. Writers are serialized with
 * flock(2) on the ring's directory, so two concurrent rotations cannot
 * lose a key. A symlinked ring is rewritten at its target.
 */
int vault_ring_add(const char *path, uint32_t *newver, char *err,
    size_t errlen);
/*
 * Rewrites the ring without version `ver` (refuses to drop the current/highest one).
 * Same atomic write and locking as vault_ring_add; other lines are kept.
 */
int vault_ring_drop(const char *path, uint32_t ver, char *err, size_t errlen);
/*
 * Returns NULL with a message in err on failure. Keys live in
 * sodium_malloc'd memory (locked where the system allows), read-only
 * while open; vault_close() wipes them. Memory locks are not inherited
 * across fork(2), but a child that only reads the keys shares the
 * parent's locked pages, which stay resident while the parent holds
 * them (the pool's workers use the supervisor's vault this way).
 */
/* Checks mode 0600 (no group or other bits), whoever owns the file. */
struct vault *vault_open(const char *path, char *err, size_t errlen);
void          vault_close(struct vault *);
/*
 * Rereads the ring at path when the file is no longer the one *vp was
 * read from (one stat(2): cheap enough before every encryption), so that
 * new tokens are always encrypted with the newest key on disk, not with
 * the key a long-lived worker loaded before `keys rotate`; a later
 * `keys drop` of that older key would make them undecryptable.
 * Returns VAULT_CURRENT when *vp is current, VAULT_RELOADED after
 * replacing it (the old vault is closed), VAULT_UNREADABLE with err when
 * the file cannot be read or is not a valid ring: *vp is then kept as it
 * was. *vp may be NULL (nothing loaded yet). Not for a vault other
 * threads are using.
 */
enum vault_refresh {
	VAULT_UNREADABLE = -1,
	VAULT_CURRENT = 0,
	VAULT_RELOADED = 1
};
enum vault_refresh vault_refresh(struct vault **vp, const char *path, char *err,
    size_t errlen);
uint32_t           vault_current_version(const struct vault *);
int                vault_has_version(const struct vault *, uint32_t ver);
/*
 * A 32-byte key for another purpose (signing cookies...), derived from
 * master key ver under ctx, 8 characters other than the token context:
 * unrelated to every workspace's key. -1 when the ring has no such
 * version. The caller wipes out.
 */
#define VAULT_SUBKEY_BYTES 32
int vault_derive(const struct vault *, uint32_t ver, const char *ctx,
    unsigned char out[VAULT_SUBKEY_BYTES]);
/*
 * Encrypts with the current key version. kind is VAULT_KIND_WABA,
 * VAULT_KIND_CATALOG or VAULT_KIND_PIN (anything else: error). On success the caller owns
 * out (vault_box_free); on failure out is left empty.
 */
int vault_encrypt(const struct vault *, uint64_t workspace_id, const char *kind,
    const char *plaintext, size_t len, struct vault_box *out, char *err,
    size_t errlen);
/*
 * On success the caller owns out (vault_secret_free); on failure out is
 * left empty ({ NULL, 0 }) and -1 returned: a box that does not decrypt
 * never becomes an empty token.
 */
int vault_decrypt(const struct vault *, uint64_t workspace_id, const char *kind,
    const struct vault_box *in, struct vault_secret *out, char *err,
    size_t errlen);
/*
 * Decrypts with in->key_version and re-encrypts with the current version;
 * no-op copy when already current (made only once in decrypts, so a
 * rotation also finds tampered rows). out must not be in; on failure out
 * is left empty.
 */
int  vault_reencrypt(const struct vault *, uint64_t workspace_id,
     const char *kind, const struct vault_box *in, struct vault_box *out,
     char *err, size_t errlen);
void vault_box_free(struct vault_box *);
/* A copy of b that owns its own ciphertext: 0, or -1 (out of memory)
   with to left empty. */
int vault_box_dup(struct vault_box *to, const struct vault_box *b);
/* sodium_memzero and free; safe on a zeroed struct. */
void vault_secret_free(struct vault_secret *);

#endif
