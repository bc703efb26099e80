/*
 * Unit tests for src/vault.c: the key ring file, the AEAD round trip and
 * every way a stored token must refuse to decrypt.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <sodium.h>

#include "vault.h"
#include "harness.h"

#define TOKEN "EAAGsecretTOKENvalue1234567890"

static char dir[64];
static char ring[128];
static char err[512];

/* A fresh temporary directory with the ring path inside it. */
static void
setup(void)
{
	strcpy(dir, "/tmp/test_vault.XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(ring, sizeof(ring), "%s/keyring", dir);
	err[0] = '\0';
}

static int
count_files(void)
{
	DIR           *d;
	struct dirent *e;
	int            n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
teardown(void)
{
	DIR           *d;
	struct dirent *e;
	char           p[512];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
	fputs(text, f);
	fclose(f);
	CU_ASSERT_FATAL(chmod(path, mode) == 0);
}

static size_t
read_file(const char *path, char *out, size_t outlen)
{
	FILE  *f;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	return n;
}

/* The base64 of n bytes of value c, for hand-made rings. */
static void
b64key(char *out, size_t outlen, size_t n, unsigned char c)
{
	unsigned char k[64];

	memset(k, c, n);
	sodium_bin2base64(out, outlen, k, n, sodium_base64_VARIANT_ORIGINAL);
}

static struct vault *
open_ring(void)
{
	struct vault *v;

	v = vault_open(ring, err, sizeof(err));
	if (v == NULL)
		fprintf(stderr, "vault_open: %s\n", err);
	return v;
}

static void
test_ring_init(void)
{
	struct stat   st;
	char          before[1024], after[1024];
	struct vault *v;

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(stat(ring, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT(read_file(ring, before, sizeof(before)) > 0);

	CU_ASSERT_EQUAL(vault_ring_init(ring, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ring));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "already exists"));
	read_file(ring, after, sizeof(after));
	CU_ASSERT_STRING_EQUAL(before, after);

	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT_EQUAL(vault_current_version(v), 1);
	CU_ASSERT(vault_has_version(v, 1));
	CU_ASSERT(!vault_has_version(v, 2));
	vault_close(v);
	/* Only the ring itself is there: no temporary left behind. */
	CU_ASSERT_EQUAL(count_files(), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(before, "# waba-connect key ring"));
	CU_ASSERT_PTR_NOT_NULL(strstr(before, "\n1 "));

	/* Nowhere to put it: the error names the file, nothing is left. */
	snprintf(ring, sizeof(ring), "%s/missing/keyring", dir);
	CU_ASSERT_EQUAL(vault_ring_init(ring, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ring));
	CU_ASSERT_EQUAL(count_files(), 1);
	teardown();
}

static void
test_open_mode(void)
{
	struct vault *v;

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(ring, 0644), 0);
	CU_ASSERT_PTR_NULL(vault_open(ring, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ring));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0644"));

	CU_ASSERT_EQUAL_FATAL(chmod(ring, 0620), 0);
	CU_ASSERT_PTR_NULL(vault_open(ring, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0620"));

	/* The writers check the mode too, rather than spread a loose ring. */
	CU_ASSERT_EQUAL_FATAL(chmod(ring, 0604), 0);
	CU_ASSERT_EQUAL(vault_ring_add(ring, &(uint32_t){ 0 }, err,
	                    sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0604"));

	CU_ASSERT_EQUAL_FATAL(chmod(ring, 0400), 0);
	CU_ASSERT_PTR_NOT_NULL(v = open_ring());
	vault_close(v);

	unlink(ring);
	CU_ASSERT_PTR_NULL(vault_open(ring, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ring));
	teardown();
}

/* Writes text as the ring and expects vault_open to fail at line. */
static void
expect_bad(const char *text, int line, const char *reason, const char *key)
{
	char want[256];

	write_file(ring, text, 0600);
	err[0] = '\0';
	CU_ASSERT_PTR_NULL(vault_open(ring, err, sizeof(err)));
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: ", ring, line);
	else
		snprintf(want, sizeof(want), "%s: ", ring);
	CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, reason));
	/* Whatever the line held, the message does not repeat the key. */
	if (key != NULL && *key != '\0')
		CU_ASSERT_PTR_NULL(strstr(err, key));
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, reason))
		fprintf(stderr, "unexpected: %s\n", err);
}

static void
test_malformed(void)
{
	struct vault *v;
	char          k32[64], k31[64], k33[64], t[512];

	setup();
	b64key(k32, sizeof(k32), 32, 'a');
	b64key(k31, sizeof(k31), 31, 'b');
	b64key(k33, sizeof(k33), 33, 'c');

	snprintf(t, sizeof(t), "# ring\n\n1 %s\n2 %s!\n", k32, k32);
	expect_bad(t, 4, "not valid base64", k32);
	snprintf(t, sizeof(t), "1 %s\n", "@@@@not-base64@@@@");
	expect_bad(t, 1, "not valid base64", NULL);
	snprintf(t, sizeof(t), "1 %s\n", k31);
	expect_bad(t, 1, "31 bytes, expected 32", k31);
	snprintf(t, sizeof(t), "# c\n1 %s\n", k33);
	expect_bad(t, 2, "33 bytes, expected 32", k33);
	snprintf(t, sizeof(t), "1 %s\n1 %s\n", k32, k32);
	expect_bad(t, 2, "must be 2..65535 (versions strictly increase)", k32);
	snprintf(t, sizeof(t), "3 %s\n# later\n2 %s\n", k32, k32);
	expect_bad(t, 3, "must be 4..65535", k32);
	snprintf(t, sizeof(t), "1 %s\nhello world\n", k32);
	expect_bad(t, 2, "VERSION BASE64KEY", k32);
	snprintf(t, sizeof(t), "0 %s\n", k32);
	expect_bad(t, 1, "key version must be 1..65535", k32);
	snprintf(t, sizeof(t), "65536 %s\n", k32);
	expect_bad(t, 1, "key version must be 1..65535", k32);
	snprintf(t, sizeof(t), "99999999999999999999999 %s\n", k32);
	expect_bad(t, 1, "key version must be 1..65535", k32);
	snprintf(t, sizeof(t), "-1 %s\n", k32);
	expect_bad(t, 1, "VERSION BASE64KEY", k32);
	snprintf(t, sizeof(t), "1 %s extra\n", k32);
	expect_bad(t, 1, "after the key", k32);
	expect_bad("1\n", 1, "VERSION BASE64KEY", NULL);
	expect_bad("# only comments\n\n", 0, "no keys", NULL);
	expect_bad("", 0, "no keys", NULL);

	/* Comments, blank lines, CRLF and a missing final newline are fine. */
	snprintf(t, sizeof(t), "# c\r\n\r\n  1\t%s  \r\n7 %s", k32, k32);
	write_file(ring, t, 0600);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT_EQUAL(vault_current_version(v), 7);
	CU_ASSERT(vault_has_version(v, 1));
	CU_ASSERT(!vault_has_version(v, 2));

	/*
	 * Versions 1 and 7 share a key here, so only the version in the
	 * associated data stops a relabelled box from decrypting.
	 */
	{
		struct vault_box    b;
		struct vault_secret s;

		CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA,
		                          TOKEN, strlen(TOKEN), &b, err,
		                          sizeof(err)),
		    0);
		CU_ASSERT_EQUAL(b.key_version, 7);
		b.key_version = 1;
		CU_ASSERT_EQUAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &b, &s,
		                    err, sizeof(err)),
		    -1);
		CU_ASSERT_PTR_NULL(s.data);
		CU_ASSERT_PTR_NOT_NULL(strstr(err,
		    "workspace 7: waba token "
		    "does not decrypt with key version 1"));
		vault_box_free(&b);
	}
	vault_close(v);
	teardown();
}

static void
roundtrip(struct vault *v, const char *pt, size_t len)
{
	struct vault_box    b;
	struct vault_secret s;

	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA, pt, len, &b,
	                          err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(b.key_version, vault_current_version(v));
	CU_ASSERT_EQUAL(b.ctlen, len + 16);
	CU_ASSERT_EQUAL_FATAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &b, &s, err,
	                          sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(s.len, len);
	CU_ASSERT(len == 0 || memcmp(s.data, pt, len) == 0);
	CU_ASSERT_EQUAL(s.data[len], '\0');
	vault_secret_free(&s);
	CU_ASSERT_PTR_NULL(s.data);
	CU_ASSERT_EQUAL(s.len, 0);
	vault_secret_free(&s); /* safe twice */
	vault_box_free(&b);
	CU_ASSERT_PTR_NULL(b.ct);
}

static void
test_roundtrip(void)
{
	struct vault    *v;
	struct vault_box a, b;
	char            *big;
	size_t           i;

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	roundtrip(v, TOKEN, strlen(TOKEN));
	roundtrip(v, "", 0);
	roundtrip(v, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big = malloc(4096));
	for (i = 0; i < 4096; i++)
		big[i] = (char)('A' + i % 26);
	roundtrip(v, big, 4096);
	free(big);

	/* Same token twice: fresh nonces, different ciphertexts. */
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_CATALOG, TOKEN,
	                          strlen(TOKEN), &a, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_CATALOG, TOKEN,
	                          strlen(TOKEN), &b, err, sizeof(err)),
	    0);
	CU_ASSERT(memcmp(a.nonce, b.nonce, VAULT_NONCE_BYTES) != 0);
	CU_ASSERT(memcmp(a.ct, b.ct, a.ctlen) != 0);
	CU_ASSERT_PTR_NULL(memmem(a.ct, a.ctlen, TOKEN, strlen(TOKEN)));
	vault_box_free(&a);
	vault_box_free(&b);
	vault_close(v);
	teardown();
}

/*
 * Plaintexts held at once beyond the slots, each intact, each wiped when
 * freed (its slot reads as zeros after, and is given out again); and a
 * forked child gets slots of its own, not the parent's copy.
 */
static void
test_slots(void)
{
	struct vault       *v;
	struct vault_box    b;
	struct vault_secret s[12], t;
	char               *p[12];
	size_t              i;
	pid_t               pid;
	int                 st, ok;

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA, TOKEN,
	                          strlen(TOKEN), &b, err, sizeof(err)),
	    0);
	for (i = 0; i < 12; i++) {
		CU_ASSERT_EQUAL_FATAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &b,
		                          &s[i], err, sizeof(err)),
		    0);
		p[i] = s[i].data;
	}
	for (i = 0; i < 12; i++) {
		CU_ASSERT_EQUAL(s[i].len, strlen(TOKEN));
		CU_ASSERT_STRING_EQUAL(s[i].data, TOKEN);
	}
	vault_secret_free(&s[3]);
	/* A slot's memory stays mapped: wiped, not just given back. */
	for (i = 0; i <= strlen(TOKEN); i++)
		CU_ASSERT_EQUAL(p[3][i], 0);
	CU_ASSERT_EQUAL_FATAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &b, &t, err,
	                          sizeof(err)),
	    0);
	CU_ASSERT_PTR_EQUAL(t.data, p[3]);
	CU_ASSERT_STRING_EQUAL(t.data, TOKEN);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		ok = vault_decrypt(v, 7, VAULT_KIND_WABA, &b, &s[0], err,
		         sizeof(err)) == 0 &&
		    strcmp(s[0].data, TOKEN) == 0;
		for (i = 0; i < 12; i++)
			ok = ok && s[0].data != p[i];
		vault_secret_free(&s[0]);
		vault_secret_free(&t); /* the parent's slot, in the copy */
		_exit(ok && t.data == NULL ? 0 : 1);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_STRING_EQUAL(t.data,
	    TOKEN); /* the child's wipe was its own */
	vault_secret_free(&t);
	for (i = 0; i < 12; i++)
		vault_secret_free(&s[i]);
	for (i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(p[i][0], 0);
	vault_box_free(&b);
	vault_close(v);
	teardown();
}

/* Expects decryption to fail with a message naming ws and no plaintext. */
static void
expect_nodecrypt(struct vault *v, uint64_t ws, const char *kind,
    const struct vault_box *b, const char *want)
{
	struct vault_secret s = { (char *)"junk", 4 };
	char                name[64];

	err[0] = '\0';
	CU_ASSERT_EQUAL(vault_decrypt(v, ws, kind, b, &s, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NULL(s.data);
	CU_ASSERT_EQUAL(s.len, 0);
	snprintf(name, sizeof(name), "workspace %llu:", (unsigned long long)ws);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, name));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_PTR_NULL(strstr(err, TOKEN));
	if (!strstr(err, name) || !strstr(err, want))
		fprintf(stderr, "unexpected: %s\n", err);
}

static void
test_tamper(void)
{
	struct vault    *v;
	struct vault_box b;
	const char      *bad = "does not decrypt with key version 1 "
	                       "(tampered, moved, or wrong key ring)";

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA, TOKEN,
	                          strlen(TOKEN), &b, err, sizeof(err)),
	    0);

	b.nonce[5] ^= 0x01;
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &b, bad);
	b.nonce[5] ^= 0x01;
	b.ct[0] ^= 0x80;
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &b, bad);
	b.ct[0] ^= 0x80;
	b.ct[b.ctlen - 1] ^= 0x01; /* the tag */
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &b, bad);
	b.ct[b.ctlen - 1] ^= 0x01;
	b.ctlen--;
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &b, bad);
	b.ctlen = 15;
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &b, "truncated");
	b.ctlen = strlen(TOKEN) + 16;

	/* Copied into another workspace's row, or the other kind's column. */
	expect_nodecrypt(v, 8, VAULT_KIND_WABA, &b,
	    "waba token does not "
	    "decrypt");
	expect_nodecrypt(v, (uint64_t)7 << 32, VAULT_KIND_WABA, &b, bad);
	expect_nodecrypt(v, 7, VAULT_KIND_CATALOG, &b,
	    "catalog token does "
	    "not decrypt");

	/* Still intact after all that. */
	{
		struct vault_secret s;

		CU_ASSERT_EQUAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &b, &s,
		                    err, sizeof(err)),
		    0);
		vault_secret_free(&s);
	}
	vault_box_free(&b);
	vault_close(v);
	teardown();
}

static void
test_kind(void)
{
	struct vault       *v;
	struct vault_box    b, c;
	struct vault_secret s;

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT_EQUAL(vault_encrypt(v, 3, "whatsapp", TOKEN, strlen(TOKEN),
	                    &b, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NULL(b.ct);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "workspace 3: unknown token kind"));
	CU_ASSERT_PTR_NULL(strstr(err, TOKEN));
	CU_ASSERT_EQUAL(vault_encrypt(v, 3, NULL, TOKEN, strlen(TOKEN), &b, err,
	                    sizeof(err)),
	    -1);
	CU_ASSERT_EQUAL(vault_encrypt(v, 3, "WABA", TOKEN, strlen(TOKEN), &b,
	                    err, sizeof(err)),
	    -1);

	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 3, VAULT_KIND_WABA, TOKEN,
	                          strlen(TOKEN), &b, err, sizeof(err)),
	    0);
	expect_nodecrypt(v, 3, "wab", &b, "unknown token kind");
	CU_ASSERT_EQUAL(vault_reencrypt(v, 3, "nope", &b, &c, err, sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NULL(c.ct);
	CU_ASSERT_EQUAL(vault_decrypt(v, 3, VAULT_KIND_WABA, &b, &s, err,
	                    sizeof(err)),
	    0);
	vault_secret_free(&s);
	vault_box_free(&b);
	/* A PIN box opens as a PIN only: the kind is part of what is sealed. */
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 3, VAULT_KIND_PIN, "123456", 6,
	                          &b, err, sizeof(err)),
	    0);
	expect_nodecrypt(v, 3, VAULT_KIND_WABA, &b, "");
	CU_ASSERT_EQUAL(vault_decrypt(v, 3, VAULT_KIND_PIN, &b, &s, err,
	                    sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(s.len, 6);
	CU_ASSERT_EQUAL(memcmp(s.data, "123456", 6), 0);
	vault_secret_free(&s);
	vault_box_free(&b);
	vault_close(v);
	teardown();
}

static void
test_rotation(void)
{
	struct vault       *v;
	struct vault_box    old, cur, re, same;
	struct vault_secret s;
	char                text[2048];
	uint32_t            nv = 0;

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA, TOKEN,
	                          strlen(TOKEN), &old, err, sizeof(err)),
	    0);
	vault_close(v);

	CU_ASSERT_EQUAL_FATAL(vault_ring_add(ring, &nv, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nv, 2);
	CU_ASSERT_EQUAL(count_files(), 1); /* no temporary left */
	read_file(ring, text, sizeof(text));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "# waba-connect key ring"));
	{
		struct stat st;

		CU_ASSERT_EQUAL(stat(ring, &st), 0);
		CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	}

	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT_EQUAL(vault_current_version(v), 2);
	CU_ASSERT(vault_has_version(v, 1));
	CU_ASSERT_EQUAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &old, &s, err,
	                    sizeof(err)),
	    0);
	CU_ASSERT(s.len == strlen(TOKEN) && memcmp(s.data, TOKEN, s.len) == 0);
	vault_secret_free(&s);
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA, TOKEN,
	                          strlen(TOKEN), &cur, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(cur.key_version, 2);

	/* A box relabelled with another version that exists still fails. */
	cur.key_version = 1;
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &cur,
	    "does not decrypt with "
	    "key version 1");
	cur.key_version = 3;
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &cur,
	    "key version 3, which "
	    "is not in the key ring");
	cur.key_version = 2;
	old.key_version = 2;
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &old,
	    "does not decrypt with "
	    "key version 2");
	old.key_version = 1;

	/* Re-encryption moves to the current version; current is a copy. */
	CU_ASSERT_EQUAL_FATAL(vault_reencrypt(v, 7, VAULT_KIND_WABA, &old, &re,
	                          err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(re.key_version, 2);
	CU_ASSERT_EQUAL_FATAL(vault_reencrypt(v, 7, VAULT_KIND_WABA, &re, &same,
	                          err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(same.key_version, 2);
	CU_ASSERT(same.ctlen == re.ctlen &&
	    memcmp(same.ct, re.ct, re.ctlen) == 0 &&
	    memcmp(same.nonce, re.nonce, VAULT_NONCE_BYTES) == 0);
	CU_ASSERT(same.ct != re.ct);
	vault_box_free(&same);
	/* Even a current box is copied only if it decrypts. */
	re.ct[3] ^= 0x10;
	CU_ASSERT_EQUAL(vault_reencrypt(v, 7, VAULT_KIND_WABA, &re, &same, err,
	                    sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NULL(same.ct);
	CU_ASSERT_PTR_NOT_NULL(strstr(err,
	    "workspace 7: waba token does not "
	    "decrypt with key version 2"));
	re.ct[3] ^= 0x10;
	/* Re-encryption of a box that does not decrypt fails, naming it. */
	CU_ASSERT_EQUAL(vault_reencrypt(v, 9, VAULT_KIND_WABA, &old, &same, err,
	                    sizeof(err)),
	    -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "workspace 9:"));
	CU_ASSERT_PTR_NULL(same.ct);
	vault_close(v);

	/* Dropping the current key, or one not there, is refused. */
	CU_ASSERT_EQUAL(vault_ring_drop(ring, 2, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "current"));
	CU_ASSERT_EQUAL(vault_ring_drop(ring, 5, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "key version 5 is not in"));

	CU_ASSERT_EQUAL_FATAL(vault_ring_drop(ring, 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(count_files(), 1);
	read_file(ring, text, sizeof(text));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "# waba-connect key ring"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = open_ring());
	CU_ASSERT(!vault_has_version(v, 1));
	CU_ASSERT_EQUAL(vault_current_version(v), 2);
	CU_ASSERT_EQUAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &re, &s, err,
	                    sizeof(err)),
	    0);
	CU_ASSERT(s.len == strlen(TOKEN) && memcmp(s.data, TOKEN, s.len) == 0);
	vault_secret_free(&s);
	expect_nodecrypt(v, 7, VAULT_KIND_WABA, &old,
	    "key version 1, which "
	    "is not in the key ring");
	vault_close(v);

	/* Versions keep increasing after a drop; 1 is never reused. */
	CU_ASSERT_EQUAL(vault_ring_add(ring, &nv, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nv, 3);

	vault_box_free(&old);
	vault_box_free(&cur);
	vault_box_free(&re);
	teardown();
}

/* add/drop keep operator text and follow a symlinked ring to its file. */
static void
test_ring_edit(void)
{
	struct vault *v;
	char          k[64], t[512], link[160], text[2048];
	uint32_t      nv = 0;

	setup();
	b64key(k, sizeof(k), 32, 'k');
	/* No final newline: add must not glue its line onto the last one. */
	snprintf(t, sizeof(t), "# backed up 2025-01-01\n10 %s\n# note\n20 %s",
	    k, k);
	write_file(ring, t, 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	CU_ASSERT_EQUAL_FATAL(symlink("keyring", link), 0);

	CU_ASSERT_EQUAL_FATAL(vault_ring_add(link, &nv, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nv, 21);
	CU_ASSERT_EQUAL(vault_ring_drop(link, 10, err, sizeof(err)), 0);
	read_file(ring, text, sizeof(text));
	CU_ASSERT_EQUAL(strncmp(text, "# backed up 2025-01-01\n# note\n20 ",
	                    33),
	    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n21 "));
	CU_ASSERT_PTR_NULL(strstr(text, "10 "));
	{
		struct stat st;

		CU_ASSERT_EQUAL(lstat(link, &st), 0);
		CU_ASSERT(S_ISLNK(st.st_mode));
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = vault_open(link, err, sizeof(err)));
	CU_ASSERT_EQUAL(vault_current_version(v), 21);
	CU_ASSERT(vault_has_version(v, 20));
	CU_ASSERT(!vault_has_version(v, 10));
	vault_close(v);

	snprintf(t, sizeof(t), "65535 %s\n", k);
	write_file(ring, t, 0600);
	CU_ASSERT_EQUAL(vault_ring_add(ring, &nv, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "65535"));

	/* A ring of comments only gets version 1, after its text. */
	write_file(ring, "# only a comment", 0600);
	CU_ASSERT_PTR_NULL(vault_open(ring, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no keys"));
	CU_ASSERT_EQUAL(vault_ring_add(ring, &nv, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nv, 1);
	read_file(ring, text, sizeof(text));
	CU_ASSERT_EQUAL(strncmp(text, "# only a comment\n1 ", 19), 0);
	CU_ASSERT_EQUAL(vault_ring_drop(ring, 1, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(vault_ring_drop(ring, 0, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "key version 0 is not in"));

	/* A malformed ring is reported, not rewritten. */
	snprintf(t, sizeof(t), "1 %s\nbroken\n", k);
	write_file(ring, t, 0600);
	CU_ASSERT_EQUAL(vault_ring_add(ring, &nv, err, sizeof(err)), -1);
	snprintf(t, sizeof(t), "%s:2: ", ring);
	CU_ASSERT_EQUAL(strncmp(err, t, strlen(t)), 0);
	CU_ASSERT_EQUAL(count_files(), 2);
	teardown();
}

/*
 * A worker's vault follows the ring on disk: after `keys rotate` (a new
 * file renamed over the old) and after an edit in place, the next
 * refresh loads the new key, and tokens are encrypted with it. A ring
 * that stops loading keeps the old vault.
 */
static void
test_refresh(void)
{
	struct vault       *v = NULL, *was;
	struct vault_box    b;
	struct vault_secret s;
	char                k[64], t[256];
	uint32_t            nv = 0;
	FILE               *f;

	setup();
	CU_ASSERT_EQUAL_FATAL(vault_ring_init(ring, err, sizeof(err)), 0);
	/* Nothing loaded yet: the first refresh opens the ring. */
	CU_ASSERT_EQUAL_FATAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_RELOADED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	was = v;
	CU_ASSERT_EQUAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_CURRENT);
	CU_ASSERT_PTR_EQUAL(v, was);
	CU_ASSERT_EQUAL(vault_current_version(v), 1);

	CU_ASSERT_EQUAL_FATAL(vault_ring_add(ring, &nv, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(nv, 2);
	CU_ASSERT_EQUAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_RELOADED);
	CU_ASSERT_EQUAL(vault_current_version(v), 2);
	CU_ASSERT_EQUAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_CURRENT);
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA, TOKEN,
	                          strlen(TOKEN), &b, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(b.key_version, 2);
	vault_box_free(&b);

	/* Appended by hand, same inode: size and mtime tell. */
	b64key(k, sizeof(k), 32, 0x33);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(ring, "a"));
	snprintf(t, sizeof(t), "3 %s\n", k);
	fputs(t, f);
	fclose(f);
	CU_ASSERT_EQUAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_RELOADED);
	CU_ASSERT_EQUAL(vault_current_version(v), 3);
	CU_ASSERT(vault_has_version(v, 1));

	/* Broken on disk: refused, and the loaded keys stay usable. */
	CU_ASSERT_EQUAL_FATAL(chmod(ring, 0644), 0);
	was = v;
	CU_ASSERT_EQUAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_UNREADABLE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "0644"));
	CU_ASSERT_PTR_EQUAL(v, was);
	CU_ASSERT_EQUAL_FATAL(vault_encrypt(v, 7, VAULT_KIND_WABA, TOKEN,
	                          strlen(TOKEN), &b, err, sizeof(err)),
	    0);
	CU_ASSERT_EQUAL(b.key_version, 3);
	CU_ASSERT_EQUAL(vault_decrypt(v, 7, VAULT_KIND_WABA, &b, &s, err,
	                    sizeof(err)),
	    0);
	vault_secret_free(&s);
	vault_box_free(&b);
	CU_ASSERT_EQUAL_FATAL(chmod(ring, 0600), 0);
	CU_ASSERT_EQUAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_RELOADED);
	CU_ASSERT_EQUAL(vault_current_version(v), 3);

	unlink(ring);
	CU_ASSERT_EQUAL(vault_refresh(&v, ring, err, sizeof(err)),
	    VAULT_UNREADABLE);
	CU_ASSERT_PTR_NOT_NULL(v);
	vault_close(v);
	teardown();
}

static int
before_vault(void)
{
	if (vault_sodium_init() != 0) {
		fprintf(stderr, "libsodium failed to initialize\n");
		return -1;
	}
	return 0;
}

static const struct ut_test tests[] = { { "ring init", test_ring_init },
	{ "open checks mode", test_open_mode },
	{ "malformed rings", test_malformed }, { "round trip", test_roundtrip },
	{ "plaintext slots", test_slots },
	{ "tampering and moving", test_tamper }, { "token kinds", test_kind },
	{ "rotation", test_rotation }, { "ring editing", test_ring_edit },
	{ "refresh from disk", test_refresh }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "vault", before_vault, NULL, NULL,
	                                  tests },
	{ NULL, NULL, NULL, NULL, NULL } };
