/*
 * waba-connect-admin: keys init|add|rotate|rekey|drop|list and token set,
 * the commands that handle the key ring (vault.c) and the tokens it
 * encrypts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "meta_gate.h"
#include "store/workspaces.h"
#include "vault.h"
#include "store/connection.h"
#include "store/sql.h"

/* ---- keys ------------------------------------------------------------ */

int
admin_keys_init(struct ctx *c)
{
	const char *owner = geteuid() == 0 ? c->cfg->user : NULL;
	char        err[512];

	if (vault_ring_init(c->cfg->key_ring_file, err, sizeof(err)) == -1)
		return admin_fail("%s", err);
	/*
	 * A pool started as root reads the ring as root, but its workers
	 * re-read it as [server] user after a rotation (priv.h): the ring
	 * is that user's. Rotations keep the owner (vault_ring_add).
	 */
	if (owner != NULL &&
	    chown(c->cfg->key_ring_file, c->cfg->user_uid, c->cfg->user_gid) ==
	        -1)
		return admin_fail("%s: created, but cannot give it to user %s: "
		                  "%s",
		    c->cfg->key_ring_file, owner, strerror(errno));
	printf("created key ring %s (key version 1, mode 0600%s%s); back it "
	       "up: without it no stored token can be decrypted\n",
	    c->cfg->key_ring_file, owner ? ", owned by " : "",
	    owner ? owner : "");
	return 0;
}

static int
rekey_one(const struct workspace *ws, void *arg)
{
	struct walk  *w = arg;
	char          err[512];
	int           changed = 0;
	enum store_rc rc;

	rc = store_conn_rekey(w->c->db, ws, w->v, &changed, err, sizeof(err));
	if (rc == STORE_OK) {
		w->tokens += changed;
		w->n++;
		printf("workspace %s (id %" PRIu64 "): re-encrypted %d "
		       "token(s)\n",
		    ws->slug, ws->id, changed);
		return 0;
	}
	w->failed++;
	admin_fail("workspace %s (id %" PRIu64 "): tokens not re-encrypted: %s",
	    ws->slug, ws->id, err);
	return rc == STORE_GONE;
}

/*
 * Brings every token to the ring's current version, one transaction per
 * workspace (store_conn_rekey), so an interruption loses nothing and a
 * re-run only does what is left.
 */
static int
rekey_all(struct ctx *c)
{
	struct walk   w = { .c = c };
	char          err[512];
	enum store_rc rc;

	if ((w.v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return admin_fail("%s", err);
	w.ver = vault_current_version(w.v);
	rc = store_ws_each(c->db, rekey_one, &w);
	vault_close(w.v);
	if (rc != STORE_OK)
		return admin_store_fail(rc, "listing workspaces");
	if (w.failed)
		return admin_fail(
		    "%d workspace(s) still have tokens that are "
		    "not on key version %" PRIu32 "; once fixed, run `" PROG
		    " keys rotate` again: it finishes this rotation without "
		    "adding another key",
		    w.failed, w.ver);
	/* What a worker read before may be reused a moment (meta_gate.h). */
	if (w.tokens > 0)
		gate_conn_settle(c->cfg->api_gate_lease_ms);
	printf("re-encrypted %d token(s) in %d workspace(s); every token is on "
	       "key version %" PRIu32 "\n",
	    w.tokens, w.n, w.ver);
	return 0;
}

int
admin_keys_rekey(struct ctx *c)
{
	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	return rekey_all(c);
}

/* Finds the oldest and newest key version any workspace's tokens use. */
static int
span_one(const struct workspace *ws, void *arg)
{
	struct walk *w = arg;
	uint32_t     lo, hi;

	if ((w->rc = store_conn_version_span(w->c->db, ws, &lo, &hi)) !=
	    STORE_OK)
		return 1;
	if (hi == 0)
		return 0;
	if (w->lo == 0 || lo < w->lo)
		w->lo = lo;
	if (hi > w->hi) {
		w->hi = hi;
		w->hit = *ws;
	}
	return 0;
}

/*
 * Rows record their key version, so the database itself says whether a
 * rotation is unfinished: a token older than the ring's newest key means
 * the last rotation stopped (interrupted, or a workspace failed) after
 * adding its key, or `keys add` was run and `keys rekey` not yet. A token
 * newer than the ring's newest key means the ring is not the one the
 * tokens were written with (an old backup?): adding a key would reuse
 * that version number for a different key, so nothing may be done. 0 with
 * the ring's current version and the oldest version in use (0: no
 * token), or EX_FAIL after saying why.
 */
static int
keys_span(struct ctx *c, uint32_t *cur, uint32_t *lo)
{
	struct walk   w = { .c = c };
	struct vault *v;
	char          err[512];
	enum store_rc rc;

	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return admin_fail("%s", err);
	*cur = vault_current_version(v);
	vault_close(v);
	w.rc = STORE_OK;
	if ((rc = store_ws_each(c->db, span_one, &w)) != STORE_OK ||
	    (rc = w.rc) != STORE_OK)
		return admin_store_fail(rc, "reading the key versions in use");
	if (w.hi > *cur)
		return admin_fail(
		    "workspace %s (id %" PRIu64 ") has tokens on "
		    "key version %" PRIu32 ", newer than the newest key in %s "
		    "(%" PRIu32 "): that is not the key ring they were stored "
		    "with; nothing was changed",
		    w.hit.slug, w.hit.id, w.hi, c->cfg->key_ring_file, *cur);
	*lo = w.lo;
	return 0;
}

/*
 * An unfinished rotation is finished with the key it added rather than
 * by adding another, so re-running `keys rotate` is always safe.
 */
int
admin_keys_rotate(struct ctx *c)
{
	char     err[512];
	uint32_t cur, lo;
	int      rc;

	if ((rc = keys_span(c, &cur, &lo)) != 0)
		return rc;
	if (lo != 0 && lo < cur)
		printf(
		    "tokens on key version %" PRIu32 " are left from an "
		    "unfinished rotation: finishing the rotation to version %" PRIu32
		    " (no key added; a new key is added once every "
		    "token is on version %" PRIu32 ": a workspace that fails "
		    "below must be fixed or disconnected first)\n",
		    lo, cur, cur);
	else {
		if (vault_ring_add(c->cfg->key_ring_file, &cur, err,
		        sizeof(err)) == -1)
			return admin_fail("%s", err);
		printf(
		    "added key version %" PRIu32 " to %s; re-encrypting "
		    "tokens (if this is interrupted or a workspace fails, run "
		    "`" PROG " keys rotate` again: it finishes the rotation "
		    "without adding another key, as `keys rekey` does)\n",
		    cur, c->cfg->key_ring_file);
	}
	/* Workers stat the ring before they encrypt (vault_refresh). */
	return rekey_all(c);
}

/*
 * The first half of a rotation alone, for several hosts with a copy of
 * the ring each: the new key reaches every copy before any token is
 * re-encrypted with it (doc/scaling.md). Refused while a rotation is
 * unfinished, as rotate would not add a key then either.
 */
int
admin_keys_add(struct ctx *c)
{
	char     err[512];
	uint32_t cur, lo;
	int      rc;

	if ((rc = keys_span(c, &cur, &lo)) != 0)
		return rc;
	if (lo != 0 && lo < cur)
		return admin_fail("tokens are still on key version %" PRIu32
		                  ", older than the newest key (%" PRIu32
		                  "): run `" PROG " keys rekey` first; no key "
		                  "was added",
		    lo, cur);
	if (vault_ring_add(c->cfg->key_ring_file, &cur, err, sizeof(err)) == -1)
		return admin_fail("%s", err);
	printf("added key version %" PRIu32 " to %s; no token was "
	       "re-encrypted: back the ring up and copy it to every host, "
	       "then run `" PROG " keys rekey`\n",
	    cur, c->cfg->key_ring_file);
	return 0;
}

static int
drop_check(const struct workspace *ws, void *arg)
{
	struct walk *w = arg;
	int          used = 0;

	if ((w->rc = store_conn_version_used(w->c->db, ws, w->ver, &used)) !=
	    STORE_OK)
		return 1;
	if (used)
		w->hit = *ws;
	return used;
}

int
admin_keys_drop(struct ctx *c)
{
	struct walk   w = { .c = c };
	struct vault *v;
	const char   *s = c->argv[0];
	char          err[512];
	uint32_t      cur;
	int           has;
	enum store_rc rc;

	if (strspn(s, "0123456789") != strlen(s) || strlen(s) > 5 ||
	    (w.ver = (uint32_t)strtoul(s, NULL, 10)) < 1 || w.ver > 65535)
		return admin_fail("bad key version: give a number from 1 to "
		                  "65535");
	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return admin_fail("%s", err);
	cur = vault_current_version(v);
	has = vault_has_version(v, w.ver);
	vault_close(v);
	if (!has)
		return admin_fail("key version %" PRIu32 " is not in the key "
		                  "ring %s",
		    w.ver, c->cfg->key_ring_file);
	if (w.ver == cur)
		return admin_fail("key version %" PRIu32 " is the current key "
		                  "and cannot be dropped; `" PROG
		                  " keys rotate` first",
		    w.ver);
	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	w.rc = STORE_OK;
	if ((rc = store_ws_each(c->db, drop_check, &w)) != STORE_OK ||
	    (rc = w.rc) != STORE_OK)
		return admin_store_fail(rc, "checking key versions in use");
	if (w.hit.id != 0)
		return admin_fail(
		    "key version %" PRIu32 " still encrypts "
		    "tokens of workspace %s (id %" PRIu64 "): run `" PROG
		    " keys rotate` first, which finishes the unfinished "
		    "rotation",
		    w.ver, w.hit.slug, w.hit.id);
	if (vault_ring_drop(c->cfg->key_ring_file, w.ver, err, sizeof(err)) ==
	    -1)
		return admin_fail("%s", err);
	printf("dropped key version %" PRIu32 " from %s\n", w.ver,
	    c->cfg->key_ring_file);
	return 0;
}

int
admin_keys_list(struct ctx *c)
{
	struct vault *v;
	char          err[512];
	uint32_t      ver, cur;

	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL)
		return admin_fail("%s", err);
	cur = vault_current_version(v);
	for (ver = 1; ver <= cur; ver++)
		if (vault_has_version(v, ver))
			printf("%" PRIu32 "%s\n", ver,
			    ver == cur ? " (current)" : "");
	vault_close(v);
	return 0;
}

/* ---- token ----------------------------------------------------------- */

int
admin_token_set(struct ctx *c)
{
	const char      *kind = c->argv[1], *cid = c->catalog_id;
	struct workspace ws;
	struct vault    *v = NULL;
	struct vault_box box;
	char             err[512], *tok = NULL;
	long             len, i;
	enum store_rc    rc;
	int              ret = EX_FAIL, catalog, enc;

	memset(&box, 0, sizeof(box));
	catalog = strcmp(kind, VAULT_KIND_CATALOG) == 0;
	if (!catalog && strcmp(kind, VAULT_KIND_WABA) != 0)
		return admin_misuse("token",
		    "token kind must be waba or "
		    "catalog");
	if (catalog && cid == NULL)
		return admin_misuse("token",
		    "a catalog token needs "
		    "--catalog-id ID");
	if (!catalog && cid != NULL)
		return admin_misuse("token",
		    "--catalog-id is only for catalog "
		    "tokens");
	if (cid &&
	    (*cid == '\0' || strlen(cid) > 32 ||
	        strspn(cid, "0123456789") != strlen(cid)))
		return admin_fail("bad catalog id: 1 to 32 digits");
	if ((ret = admin_find_workspace(c, c->argv[0], &ws)) != 0)
		return ret;
	ret = EX_FAIL;
	if ((v = vault_open(c->cfg->key_ring_file, err, sizeof(err))) == NULL) {
		admin_fail("%s", err);
		goto out;
	}
	if ((len = admin_read_secret("token", 1, 4096, &tok)) == -1)
		goto out;
	for (i = 0; i < len; i++)
		if (tok[i] < 0x21 || tok[i] > 0x7e) {
			admin_fail("the token must be printable ASCII without "
			           "spaces");
			goto out;
		}
	enc = vault_encrypt(v, ws.id, kind, tok, (size_t)len, &box, err,
	    sizeof(err));
	admin_secret_free(tok, 4097);
	tok = NULL;
	if (enc == -1) {
		admin_fail("%s", err);
		goto out;
	}
	rc = store_conn_token_put(c->db, &ws, kind, &box, cid, "admin");
	if (rc != STORE_OK) {
		admin_store_fail(rc, "storing the token");
		goto out;
	}
	printf("stored the %s token for workspace %s (key version %" PRIu32
	       "); the next Verify on the settings page checks it with Meta\n",
	    catalog ? "catalog" : "WABA", ws.slug, box.key_version);
	ret = 0;
out:
	admin_secret_free(tok, 4097);
	vault_box_free(&box);
	vault_close(v);
	return ret;
}
