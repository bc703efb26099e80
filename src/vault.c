/*
 * vault: token encryption and the key ring file (the model is in vault.h).
 * Key material and plaintext live only in sodium_malloc'd memory, which
 * libsodium locks and wipes on free, or in stack buffers wiped before
 * return. buf is not used for secrets: its realloc leaves copies behind.
 * Decrypted tokens come from a few slots in one such region per process
 * (vault_slot_get), not from a sodium_malloc each: that cost ten system
 * calls (guard pages, mlock, then munlock, munmap) on every Meta call.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "vault.h"

#define VAULT_KEY_BYTES   32
#define VAULT_ABYTES      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define VAULT_KDF_CTX     "wabatokn"
#define VAULT_VERSION_MAX 65535
/* 65535 versions are about 3 MiB of text; anything bigger is not a ring. */
#define VAULT_RING_MAX (4 * 1024 * 1024)
/* workspace id (8) || kind length (1) || kind (at most 7) || version (4) */
#define VAULT_AD_MAX (8 + 1 + 7 + 4)
/* Longer base64 cannot be a 32-byte key; bounds the decoding scratch. */
#define VAULT_B64_MAX 128
/* "65535 " || 44 characters of base64 || "\n" || NUL, with room to spare */
#define VAULT_LINE_MAX 64

/*
 * Plaintext slots: a token is a few hundred bytes (a PIN six); one
 * request holds at most two secrets at once. Longer plaintexts, and any
 * beyond the slots, get a sodium_malloc of their own as before.
 */
#define VAULT_SLOTS      8
#define VAULT_SLOT_BYTES 2048

_Static_assert(crypto_kdf_KEYBYTES == VAULT_KEY_BYTES &&
        crypto_aead_xchacha20poly1305_ietf_KEYBYTES == VAULT_KEY_BYTES &&
        crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == VAULT_NONCE_BYTES &&
        sizeof(VAULT_KDF_CTX) - 1 == crypto_kdf_CONTEXTBYTES,
    "vault sizes");

struct vault {
	/* Which file this is, for vault_refresh(): see vault_same_file(). */
	dev_t           dev;
	ino_t           ino;
	off_t           size;
	struct timespec mtime, ctime;
	size_t          n;
	uint32_t       *vers; /* strictly increasing; the last is current */
	size_t         *line; /* where each key's line starts in the ring */
	unsigned char  *keys; /* sodium_malloc'd, read-only once open */
};

static const char vault_ring_header[] =
    "# waba-connect key ring: \"VERSION BASE64KEY\" lines; the highest\n"
    "# version encrypts new tokens. Keep it mode 0600 and backed up:\n"
    "# without it no stored token can be decrypted.\n";

/* Always -1, so that failing reads "return vault_err(...)". */
static int __attribute__((format(printf, 3, 4)))
vault_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
vault_sodium_init(void)
{
	/* 1 means already initialized, which is as good. */
	return sodium_init() < 0 ? -1 : 0;
}

static int
vault_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Parses one line of n bytes into *ver (> prev) and key: 1 for a key line,
 * 0 for a blank or comment, -1 with a reason that never quotes the line.
 */
static int
vault_parse_line(const char *s, size_t n, uint32_t prev, uint32_t *ver,
    unsigned char *key, char *why, size_t whylen)
{
	unsigned char bin[VAULT_B64_MAX / 4 * 3];
	const char   *e = s + n, *tok;
	size_t        binlen = 0;
	unsigned long v = 0;
	int           rc;

	while (s < e && vault_blank(*s))
		s++;
	while (e > s && vault_blank(e[-1]))
		e--;
	if (s == e || *s == '#')
		return 0;
	for (tok = s; s < e && *s >= '0' && *s <= '9'; s++)
		if (v <= VAULT_VERSION_MAX) /* saturate, don't overflow */
			v = v * 10 + (unsigned long)(*s - '0');
	if (s == tok || s == e || !vault_blank(*s))
		return vault_err(why, whylen, "expected \"VERSION BASE64KEY\"");
	if (v <= prev || v > VAULT_VERSION_MAX)
		return vault_err(why, whylen,
		    "key version must be %" PRIu32
		    "..%d (versions strictly increase)",
		    prev + 1, VAULT_VERSION_MAX);
	while (s < e && vault_blank(*s))
		s++;
	tok = s;
	while (s < e && !vault_blank(*s))
		s++;
	if (s < e)
		return vault_err(why, whylen, "unexpected text after the key");
	if (s - tok > VAULT_B64_MAX)
		return vault_err(why, whylen, "key is longer than 32 bytes");
	rc = sodium_base642bin(bin, sizeof(bin), tok, (size_t)(s - tok), NULL,
	    &binlen, NULL, sodium_base64_VARIANT_ORIGINAL);
	if (rc == 0 && binlen == VAULT_KEY_BYTES)
		memcpy(key, bin, VAULT_KEY_BYTES);
	sodium_memzero(bin, sizeof(bin));
	if (rc != 0)
		return vault_err(why, whylen, "key is not valid base64");
	if (binlen != VAULT_KEY_BYTES)
		return vault_err(why, whylen, "key is %zu bytes, expected 32",
		    binlen);
	*ver = (uint32_t)v;
	return 1;
}

/*
 * Reads and parses the ring at real (path is the operator's name for it);
 * a bad line is reported as "FILE:LINE: reason". Neither group nor others
 * may touch the ring: it is as secret as every token it protects, and
 * fstat checks the very file read. With textp, for editing, an empty
 * ring is fine and the text is handed over (sodium_free it) with room to
 * append a key line.
 */
static struct vault *
vault_load(const char *path, const char *real, char **textp, size_t *lenp,
    char *err, size_t errlen)
{
	struct stat   st;
	struct vault *v = NULL;
	const char   *p, *nl, *end;
	char         *text = NULL, why[128];
	size_t        len = 0, lineno, maxkeys = 1;
	ssize_t       n = 0;
	uint32_t      ver = 0;
	int           fd, rc;

	if (vault_sodium_init() == -1 ||
	    (fd = open(real, O_RDONLY | O_CLOEXEC)) == -1) {
		vault_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		vault_err(err, errlen, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode) || st.st_size > VAULT_RING_MAX)
		vault_err(err, errlen,
		    "%s: not a key ring (a regular file of "
		    "at most %d bytes)",
		    path, VAULT_RING_MAX);
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		vault_err(err, errlen,
		    "%s: mode %04o lets group or others "
		    "access the key ring; it must be 0600",
		    path, (unsigned int)(st.st_mode & 07777));
	else if ((text = sodium_malloc(
	              (size_t)st.st_size + 1 + VAULT_LINE_MAX)) == NULL)
		vault_err(err, errlen, "%s: out of memory", path);
	else
		while (len < (size_t)st.st_size &&
		    ((n = read(fd, text + len, (size_t)st.st_size - len)) > 0 ||
		        (n == -1 && errno == EINTR)))
			len += n > 0 ? (size_t)n : 0;
	if (text != NULL && n == -1)
		vault_err(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	if (text == NULL || n == -1)
		goto fail;

	for (p = text, end = text + len;
	     (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1)
		maxkeys++;
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->vers = calloc(maxkeys, sizeof(*v->vers))) == NULL ||
	    (v->line = calloc(maxkeys, sizeof(*v->line))) == NULL ||
	    (v->keys = sodium_malloc(maxkeys * VAULT_KEY_BYTES)) == NULL) {
		vault_err(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	for (lineno = 1, p = text; p < end; lineno++, p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		rc = vault_parse_line(p, (size_t)((nl ? nl : end) - p),
		    v->n ? v->vers[v->n - 1] : 0, &ver,
		    v->keys + v->n * VAULT_KEY_BYTES, why, sizeof(why));
		if (rc == -1) {
			vault_err(err, errlen, "%s:%zu: %s", path, lineno, why);
			goto fail;
		}
		if (rc == 1) {
			v->line[v->n] = (size_t)(p - text);
			v->vers[v->n++] = ver;
		}
	}
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->size = st.st_size;
	v->mtime = st.st_mtim;
	v->ctime = st.st_ctim;
	if (v->n == 0 && textp == NULL) {
		vault_err(err, errlen, "%s: the key ring holds no keys", path);
		goto fail;
	}
	/* Nothing writes keys while open: stray writes fault, not corrupt. */
	sodium_mprotect_readonly(v->keys);
	if (textp != NULL) {
		*textp = text;
		*lenp = len;
		text = NULL;
	}
	sodium_free(text);
	return v;
fail:
	sodium_free(text);
	vault_close(v);
	return NULL;
}

struct vault *
vault_open(const char *path, char *err, size_t errlen)
{
	return vault_load(path, path, NULL, NULL, err, errlen);
}

/*
 * A ring is replaced by rename (new inode) or, by hand, edited in place
 * (new size or times): comparing all of them catches both, and the
 * nanosecond times catch two edits within one second. ctime also moves
 * on chmod, so a ring made readable by others is noticed (and refused).
 */
static int
vault_same_file(const struct vault *v, const struct stat *st)
{
	return v->dev == st->st_dev && v->ino == st->st_ino &&
	    v->size == st->st_size && v->mtime.tv_sec == st->st_mtim.tv_sec &&
	    v->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    v->ctime.tv_sec == st->st_ctim.tv_sec &&
	    v->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

enum vault_refresh
vault_refresh(struct vault **vp, const char *path, char *err, size_t errlen)
{
	struct stat   st;
	struct vault *nv;

	if (stat(path, &st) == -1) {
		(void)vault_err(err, errlen, "%s: %s", path, strerror(errno));
		return VAULT_UNREADABLE;
	}
	if (*vp != NULL && vault_same_file(*vp, &st))
		return VAULT_CURRENT;
	if ((nv = vault_open(path, err, errlen)) == NULL)
		return VAULT_UNREADABLE;
	vault_close(*vp);
	*vp = nv;
	return VAULT_RELOADED;
}

void
vault_close(struct vault *v)
{
	if (v == NULL)
		return;
	/* sodium_free makes the pages writable again, wipes and unlocks. */
	sodium_free(v->keys);
	free(v->vers);
	free(v->line);
	free(v);
}

uint32_t
vault_current_version(const struct vault *v)
{
	return v->vers[v->n - 1];
}

/* Rings hold a handful of versions: a linear scan is plenty. */
static const unsigned char *
vault_key(const struct vault *v, uint32_t ver)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->vers[i] == ver)
			return v->keys + i * VAULT_KEY_BYTES;
	return NULL;
}

int
vault_has_version(const struct vault *v, uint32_t ver)
{
	return vault_key(v, ver) != NULL;
}

int
vault_derive(const struct vault *v, uint32_t ver, const char *ctx,
    unsigned char out[VAULT_SUBKEY_BYTES])
{
	const unsigned char *master;

	if (strlen(ctx) != crypto_kdf_CONTEXTBYTES ||
	    strcmp(ctx, VAULT_KDF_CTX) == 0 ||
	    (master = vault_key(v, ver)) == NULL)
		return -1;
	/* Subkey id 0: a context names one key, unlike workspaces' ids. */
	return crypto_kdf_derive_from_key(out, VAULT_SUBKEY_BYTES, 0, ctx,
	           master) == 0
	    ? 0
	    : -1;
}

/*
 * Checks kind, derives the workspace's key for version ver into sub and
 * writes the associated data to ad: 8-byte big-endian workspace id, kind
 * length and kind, 4-byte big-endian version. Fixed widths and the length
 * prefix make it unambiguous: no two (workspace, kind, version) share it.
 */
static int
vault_bind(const struct vault *v, uint64_t ws, const char *kind, uint32_t ver,
    unsigned char *sub, unsigned char *ad, size_t *adlen, char *err,
    size_t errlen)
{
	const unsigned char *master;
	size_t               i, n = 0;

	if (kind == NULL ||
	    (strcmp(kind, VAULT_KIND_WABA) != 0 &&
	        strcmp(kind, VAULT_KIND_CATALOG) != 0 &&
	        strcmp(kind, VAULT_KIND_PIN) != 0))
		return vault_err(err, errlen,
		    "workspace %" PRIu64 ": unknown "
		    "token kind (expected \"%s\", \"%s\" or \"%s\")",
		    ws, VAULT_KIND_WABA, VAULT_KIND_CATALOG, VAULT_KIND_PIN);
	if ((master = vault_key(v, ver)) == NULL)
		return vault_err(err, errlen,
		    "workspace %" PRIu64 ": %s token "
		    "needs key version %" PRIu32 ", which is not in the key "
		    "ring",
		    ws, kind, ver);
	crypto_kdf_derive_from_key(sub, VAULT_KEY_BYTES, ws, VAULT_KDF_CTX,
	    master);
	for (i = 0; i < 8; i++)
		ad[n++] = (unsigned char)(ws >> (56 - 8 * i));
	ad[n++] = (unsigned char)strlen(kind);
	memcpy(ad + n, kind, strlen(kind));
	n += strlen(kind);
	for (i = 0; i < 4; i++)
		ad[n++] = (unsigned char)(ver >> (24 - 8 * i));
	*adlen = n;
	return 0;
}

int
vault_encrypt(const struct vault *v, uint64_t workspace_id, const char *kind,
    const char *plaintext, size_t len, struct vault_box *out, char *err,
    size_t errlen)
{
	unsigned char      ad[VAULT_AD_MAX], sub[VAULT_KEY_BYTES];
	unsigned long long clen;
	size_t             adlen;

	memset(out, 0, sizeof(*out));
	if ((plaintext == NULL && len > 0) ||
	    len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
	    (out->ct = malloc(len + VAULT_ABYTES)) == NULL)
		return vault_err(err, errlen,
		    "workspace %" PRIu64 ": cannot "
		    "encrypt a token of %zu bytes",
		    workspace_id, len);
	out->key_version = vault_current_version(v);
	if (vault_bind(v, workspace_id, kind, out->key_version, sub, ad, &adlen,
	        err, errlen) == -1) {
		vault_box_free(out);
		return -1;
	}
	/* 192-bit random nonces don't collide in practice: no nonce state. */
	randombytes_buf(out->nonce, sizeof(out->nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->ct, &clen,
	    (const unsigned char *)(plaintext ? plaintext : ""), len, ad, adlen,
	    NULL, out->nonce, sub);
	sodium_memzero(sub, sizeof(sub));
	out->ctlen = (size_t)clen;
	return 0;
}

/*
 * One sodium_malloc'd region (guard pages around it, locked where the
 * system allows, never in a core dump) cut into VAULT_SLOTS slots, made
 * on the first decrypt in each process: memory locks are not inherited
 * across fork(2), and a child writing to its parent's copy would write
 * to an unlocked private copy, so a process that finds the region is
 * its parent's makes its own (and keeps the old one's address, so that
 * a secret decrypted before the fork is still wiped and released
 * there). A slot is wiped when freed (vault_secret_free), so a free
 * slot holds only zeros. used[] is a bit per slot, claimed atomically:
 * an opened vault may be shared by threads.
 */
struct vault_arena {
	unsigned char   *mem;
	pid_t            pid;
	_Atomic unsigned used;
};

static struct vault_arena vault_arenas[2]; /* this process's, its parent's */

static int
vault_in_arena(const struct vault_arena *a, const void *p)
{
	const unsigned char *c = p;

	return a->mem != NULL && c >= a->mem &&
	    c < a->mem + VAULT_SLOTS * VAULT_SLOT_BYTES;
}

/* n bytes of locked memory for a plaintext: a slot, or sodium_malloc. */
static void *
vault_slot_get(size_t n)
{
	struct vault_arena *a = &vault_arenas[0];
	unsigned            used, i;
	pid_t               me = getpid();

	if (n > VAULT_SLOT_BYTES)
		return sodium_malloc(n);
	if (a->mem == NULL || a->pid != me) {
		/* The parent's slots stay where its secrets were. */
		if (a->mem != NULL && vault_arenas[1].mem == NULL)
			vault_arenas[1] = (struct vault_arena){ a->mem, a->pid,
				atomic_load(&a->used) };
		a->mem = sodium_malloc(VAULT_SLOTS * VAULT_SLOT_BYTES);
		a->pid = me;
		atomic_store(&a->used, 0);
		if (a->mem == NULL)
			return sodium_malloc(n);
		sodium_memzero(a->mem, VAULT_SLOTS * VAULT_SLOT_BYTES);
	}
	used = atomic_load(&a->used);
	for (i = 0; i < VAULT_SLOTS; i++) {
		if (used & (1u << i))
			continue;
		if (atomic_compare_exchange_strong(&a->used, &used,
		        used | (1u << i)))
			return a->mem + (size_t)i * VAULT_SLOT_BYTES;
		i = (unsigned)-1; /* used was reloaded: look again */
	}
	return sodium_malloc(n);
}

/* Wipes the len bytes at p and gives back its slot or its region. */
static void
vault_slot_put(void *p, size_t len)
{
	struct vault_arena *a;
	size_t              i;

	for (i = 0; i < 2; i++) {
		a = &vault_arenas[i];
		if (vault_in_arena(a, p)) {
			sodium_memzero(p, len);
			atomic_fetch_and(&a->used,
			    ~(1u << (((unsigned char *)p - a->mem) /
			          VAULT_SLOT_BYTES)));
			return;
		}
	}
	sodium_memzero(p, len);
	sodium_free(p);
}

int
vault_decrypt(const struct vault *v, uint64_t workspace_id, const char *kind,
    const struct vault_box *in, struct vault_secret *out, char *err,
    size_t errlen)
{
	unsigned char      ad[VAULT_AD_MAX], sub[VAULT_KEY_BYTES];
	unsigned long long mlen;
	size_t             adlen;
	char              *p;
	int                rc;

	out->data = NULL;
	out->len = 0;
	if (in->damaged)
		return vault_err(err, errlen,
		    "workspace %" PRIu64 ": %s token "
		    "is stored damaged (its key version or nonce is missing or "
		    "malformed) and cannot be decrypted",
		    workspace_id, kind ? kind : "?");
	if (vault_bind(v, workspace_id, kind, in->key_version, sub, ad, &adlen,
	        err, errlen) == -1)
		return -1;
	if (in->ct == NULL || in->ctlen < VAULT_ABYTES)
		rc = vault_err(err, errlen,
		    "workspace %" PRIu64 ": %s token "
		    "is truncated (%zu bytes)",
		    workspace_id, kind, in->ct == NULL ? 0 : in->ctlen);
	else if ((p = vault_slot_get(in->ctlen - VAULT_ABYTES + 1)) == NULL)
		rc = vault_err(err, errlen, "out of memory");
	else if ((rc = crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char
	                                                                  *)p,
	              &mlen, NULL, in->ct, in->ctlen, ad, adlen, in->nonce,
	              sub)) != 0) {
		vault_slot_put(p, in->ctlen - VAULT_ABYTES + 1);
		rc = vault_err(err, errlen,
		    "workspace %" PRIu64 ": %s token "
		    "does not decrypt with key version %" PRIu32 " (tampered, "
		    "moved, or wrong key ring)",
		    workspace_id, kind, in->key_version);
	} else {
		p[mlen] = '\0';
		out->data = p;
		out->len = (size_t)mlen;
	}
	sodium_memzero(sub, sizeof(sub));
	return rc;
}

int
vault_reencrypt(const struct vault *v, uint64_t workspace_id, const char *kind,
    const struct vault_box *in, struct vault_box *out, char *err, size_t errlen)
{
	struct vault_secret s;
	int                 rc;

	memset(out, 0, sizeof(*out));
	/* Decrypting first means that even a box only copied is checked. */
	if (vault_decrypt(v, workspace_id, kind, in, &s, err, errlen) == -1)
		return -1;
	if (in->key_version != vault_current_version(v))
		rc = vault_encrypt(v, workspace_id, kind, s.data, s.len, out,
		    err, errlen);
	else if ((out->ct = malloc(in->ctlen)) == NULL)
		rc = vault_err(err, errlen, "out of memory");
	else {
		memcpy(out->ct, in->ct, in->ctlen);
		memcpy(out->nonce, in->nonce, sizeof(out->nonce));
		out->key_version = in->key_version;
		out->ctlen = in->ctlen;
		rc = 0;
	}
	vault_secret_free(&s);
	return rc;
}

void
vault_box_free(struct vault_box *b)
{
	if (b == NULL)
		return;
	free(b->ct);
	memset(b, 0, sizeof(*b));
}

int
vault_box_dup(struct vault_box *to, const struct vault_box *b)
{
	*to = *b;
	to->ct = NULL;
	if (b->ct == NULL)
		return 0;
	if ((to->ct = malloc(b->ctlen)) == NULL) {
		memset(to, 0, sizeof(*to));
		return -1;
	}
	memcpy(to->ct, b->ct, b->ctlen);
	return 0;
}

void
vault_secret_free(struct vault_secret *s)
{
	if (s == NULL || s->data == NULL)
		return;
	/* All vault_decrypt wrote: the plaintext and its NUL. */
	vault_slot_put(s->data, s->len + 1);
	s->data = NULL;
	s->len = 0;
}

/*
 * Opens and locks the ring's directory: two rotations must not each add
 * "the next version" and lose a key, and the ring itself is replaced by
 * rename. The descriptor also syncs the directory after a rename.
 */
static int
vault_lockdir(const char *real)
{
	char *copy;
	int   fd = -1;

	if ((copy = strdup(real)) != NULL &&
	    (fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	        -1 &&
	    flock(fd, LOCK_EX) == -1) {
		close(fd);
		fd = -1;
	}
	free(copy);
	return fd;
}

/*
 * Replaces the ring at real (path is the operator's name for it) by a
 * synced temporary file renamed over it: a crash leaves the old ring or
 * the new, never half of one. The new ring keeps the old one's owner:
 * root rotating the keys of a pool that dropped to [server] user
 * (priv.h) must leave a ring that user can still read, mode 0600.
 */
static int
vault_write(const char *path, const char *real, int dfd, const char *text,
    size_t len, char *err, size_t errlen)
{
	struct stat st;
	char       *tmp;
	ssize_t     n;
	int         fd = -1, e = 0;

	if (asprintf(&tmp, "%s.XXXXXX", real) == -1)
		return vault_err(err, errlen, "out of memory");
	if ((fd = mkstemp(tmp)) == -1) /* mode 0600, as a ring must be */
		e = errno;
	else if (stat(real, &st) == 0 &&
	    (st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) == -1 && st.st_uid != geteuid())
		e = errno; /* only a group we are not in may stay ours */
	while (e == 0 && len > 0) {
		if ((n = write(fd, text, len)) == -1 && errno != EINTR)
			e = errno;
		else if (n > 0) {
			text += n;
			len -= (size_t)n;
		}
	}
	if (fd != -1) {
		if (e == 0 && fsync(fd) == -1)
			e = errno;
		if (close(fd) == -1 && e == 0)
			e = errno;
		if (e == 0 && rename(tmp, real) == -1)
			e = errno;
		if (e == 0 && fsync(dfd) == -1)
			e = errno;
		if (e != 0)
			unlink(tmp);
	}
	free(tmp);
	if (e != 0)
		return vault_err(err, errlen, "%s: %s", path, strerror(e));
	return 0;
}

/*
 * Creates the ring with just its header, O_EXCL since overwriting a ring
 * would lose every token stored with it, then adds version 1 as any other
 * version. A crash in between leaves a ring without keys: vault_open
 * refuses it and vault_ring_add completes it.
 */
int
vault_ring_init(const char *path, char *err, size_t errlen)
{
	size_t  len = sizeof(vault_ring_header) - 1;
	ssize_t n;
	int     fd, rc = 0;

	if ((fd = open(path,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1)
		return vault_err(err, errlen, "%s: %s", path,
		    errno == EEXIST
		        ? "already exists; refusing to overwrite a key ring"
		        : strerror(errno));
	if ((n = write(fd, vault_ring_header, len)) != (ssize_t)len)
		rc = vault_err(err, errlen, "%s: %s", path,
		    n == -1 ? strerror(errno) : "short write");
	close(fd);
	if (rc == -1 || (rc = vault_ring_add(path, NULL, err, errlen)) == -1)
		unlink(path);
	return rc;
}

/*
 * Appends a new version (add) or removes version ver, editing the ring's
 * text in place so that comments and other lines stay byte for byte.
 * Symlinks are resolved so the rename replaces the ring, not the link.
 */
static int
vault_ring_edit(const char *path, int add, uint32_t ver, uint32_t *newver,
    char *err, size_t errlen)
{
	struct vault *v = NULL;
	unsigned char key[VAULT_KEY_BYTES];
	const char   *nl;
	char          b64[VAULT_LINE_MAX], *real, *text = NULL;
	size_t        len, i, end;
	int           dfd = -1, rc = -1;

	if ((real = realpath(path, NULL)) == NULL ||
	    (dfd = vault_lockdir(real)) == -1) {
		vault_err(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if ((v = vault_load(path, real, &text, &len, err, errlen)) == NULL)
		goto done;
	i = 0;
	while (i < v->n && v->vers[i] != ver)
		i++;
	if (add &&
	    (ver = (v->n ? vault_current_version(v) : 0) + 1) >
	        VAULT_VERSION_MAX)
		vault_err(err, errlen, "%s: key version %d is the last one",
		    path, VAULT_VERSION_MAX);
	else if (!add && i + 1 >= v->n)
		vault_err(err, errlen, "%s: key version %" PRIu32 " %s", path,
		    ver,
		    i == v->n ? "is not in the key ring"
		              : "is the current key and cannot be dropped");
	else {
		if (add && len > 0 && text[len - 1] != '\n')
			text[len++] = '\n';
		if (add) {
			crypto_kdf_keygen(key);
			sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
			    sodium_base64_VARIANT_ORIGINAL);
			len += (size_t)snprintf(text + len, VAULT_LINE_MAX,
			    "%" PRIu32 " %s\n", ver, b64);
		} else {
			nl = memchr(text + v->line[i], '\n', len - v->line[i]);
			end = nl ? (size_t)(nl - text) + 1 : len;
			memmove(text + v->line[i], text + end, len - end);
			len -= end - v->line[i];
		}
		rc = vault_write(path, real, dfd, text, len, err, errlen);
	}
	if (rc == 0 && newver != NULL)
		*newver = ver;
done:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	sodium_free(text);
	vault_close(v);
	if (dfd != -1)
		close(dfd); /* releases the lock, after the rename */
	free(real);
	return rc;
}

int
vault_ring_add(const char *path, uint32_t *newver, char *err, size_t errlen)
{
	return vault_ring_edit(path, 1, 0, newver, err, errlen);
}

int
vault_ring_drop(const char *path, uint32_t ver, char *err, size_t errlen)
{
	return vault_ring_edit(path, 0, ver, NULL, err, errlen);
}
