/*
 * session: who is asking, from cookies, and whether a form really came
 * from our page. Only random ids and MACs travel in cookies; a session
 * is stored by the hash of its id (store/sessions.c), so a leaked table
 * signs nobody in, and a forged device cookie fails its MAC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "session.h"
#include "store/sessions.h"
#include "vault.h"

#define ID_BYTES 32
#define HEX_LEN  (ID_BYTES * 2)

/*
 * With https, the __Host- prefix makes the browser refuse the cookie
 * unless it is Secure, host-only and Path=/ (RFC 6265bis §4.1.3.2).
 */
static const char *
sess_cookie(const struct ctx *c, int login)
{
	if (c->app->cfg->base_https)
		return login ? "__Host-waba_login" : "__Host-waba_session";
	return login ? "waba_login" : "waba_session";
}

static int
sess_set_cookie(struct ctx *c, int login, const char *value, int clear)
{
	char h[256];

	snprintf(h, sizeof(h), "%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s",
	    sess_cookie(c, login), value,
	    c->app->cfg->base_https ? "; Secure" : "",
	    clear ? "; Max-Age=0" : "");
	return resp_header(c->resp, "Set-Cookie", h);
}

/* Parses the cookie's 64 hex digits into the raw id; -1 if malformed. */
static int
sess_parse(const char *hex, unsigned char id[ID_BYTES])
{
	size_t len;

	if (hex == NULL || strlen(hex) != HEX_LEN)
		return -1;
	if (sodium_hex2bin(id, ID_BYTES, hex, HEX_LEN, NULL, &len, NULL) != 0 ||
	    len != ID_BYTES)
		return -1;
	return 0;
}

enum store_rc
session_gate(struct ctx *c, const char *slug, int *member)
{
	unsigned char id[ID_BYTES];
	enum store_rc rc;

	c->has_sess = 0;
	if (member != NULL)
		*member = 0;
	if (sess_parse(kv_get(&c->req->cookies, sess_cookie(c, 0)), id) == -1)
		return STORE_NOTFOUND;
	crypto_hash_sha256(c->sess_hash, id, sizeof(id));
	sodium_memzero(id, sizeof(id));
	rc = store_sess_gate(c->app->db, c->sess_hash, slug, &c->sess, &c->ws,
	    member);
	if (rc == STORE_OK)
		c->has_sess = 1;
	return rc;
}

enum store_rc
session_load(struct ctx *c)
{
	return session_gate(c, NULL, NULL);
}

enum store_rc
session_start(struct ctx *c, uint64_t user)
{
	unsigned char id[ID_BYTES], csrf[ID_BYTES];
	char          hex[HEX_LEN + 1], csrfhex[HEX_LEN + 1];
	enum store_rc rc;

	/* A session the browser already had is ended: no fixation. */
	if (c->has_sess || session_load(c) == STORE_OK)
		store_sess_delete(c->app->db, c->sess_hash);
	randombytes_buf(id, sizeof(id));
	randombytes_buf(csrf, sizeof(csrf));
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	sodium_bin2hex(csrfhex, sizeof(csrfhex), csrf, sizeof(csrf));
	crypto_hash_sha256(c->sess_hash, id, sizeof(id));
	rc = store_sess_create(c->app->db, c->sess_hash, user, csrfhex);
	if (rc == STORE_OK) {
		sess_set_cookie(c, 0, hex, 0);
		/* The sign-in token has done its job. */
		sess_set_cookie(c, 1, "", 1);
	}
	sodium_memzero(id, sizeof(id));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

enum store_rc
session_end(struct ctx *c)
{
	enum store_rc rc = STORE_OK;

	if (c->has_sess)
		rc = store_sess_delete(c->app->db, c->sess_hash);
	c->has_sess = 0;
	sess_set_cookie(c, 0, "", 1);
	return rc;
}

static int
sess_token_eq(const char *want, const char *got)
{
	if (want == NULL || got == NULL || strlen(want) != HEX_LEN ||
	    strlen(got) != HEX_LEN)
		return 0;
	return sodium_memcmp(want, got, HEX_LEN) == 0;
}

int
session_csrf_ok(const struct ctx *c, const char *token)
{
	return c->has_sess && sess_token_eq(c->sess.csrf, token);
}

int
session_login_token(struct ctx *c, char out[HEX_LEN + 1])
{
	const char   *have = kv_get(&c->req->cookies, sess_cookie(c, 1));
	unsigned char raw[ID_BYTES];

	if (sess_parse(have, raw) == 0) {
		snprintf(out, HEX_LEN + 1, "%s", have);
		return 0;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, HEX_LEN + 1, raw, sizeof(raw));
	return sess_set_cookie(c, 1, out, 0);
}

int
session_login_token_ok(const struct ctx *c, const char *token)
{
	return sess_token_eq(kv_get(&c->req->cookies, sess_cookie(c, 1)),
	    token);
}

/*
 * Device cookies (OWASP "Slow Down Online Guessing Attacks with Device
 * Cookies"): a browser that signed in to an account gets
 * "VERSION.NONCE.MAC", MAC = HMAC-SHA256 under a key derived from key
 * ring version VERSION (context "wabadevc") over the nonce and the
 * account's email. The email is not in the cookie; nothing in it is a
 * secret; it proves only that this browser once signed in to that
 * account, which exempts it from the per-email and per-address lockouts
 * (its own failures are limited per nonce instead).
 */
#define DEV_CTX     "wabadevc"
#define DEV_HEX     (SESSION_DEVICE_BYTES * 2)
#define DEV_MAC_HEX (crypto_auth_hmacsha256_BYTES * 2)
#define DEV_MAX_AGE (180L * 24 * 3600)

static const char *
dev_cookie(const struct ctx *c)
{
	return c->app->cfg->base_https ? "__Host-waba_device" : "waba_device";
}

static int
dev_mac(struct ctx *c, uint32_t ver,
    const unsigned char nonce[SESSION_DEVICE_BYTES], const char *email,
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	unsigned char                key[VAULT_SUBKEY_BYTES];
	struct vault                *v = app_vault(c->app);

	if (v == NULL || vault_derive(v, ver, DEV_CTX, key) == -1)
		return -1;
	crypto_auth_hmacsha256_init(&st, key, sizeof(key));
	crypto_auth_hmacsha256_update(&st, nonce, SESSION_DEVICE_BYTES);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)email,
	    strlen(email));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

int
session_device_check(struct ctx *c, const char *email,
    unsigned char device[SESSION_DEVICE_BYTES])
{
	const char   *v = kv_get(&c->req->cookies, dev_cookie(c));
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	unsigned char want[crypto_auth_hmacsha256_BYTES];
	unsigned long ver;
	size_t        len;
	char         *end;
	int           ok;

	if (v == NULL || *v < '1' || *v > '9')
		return 0;
	ver = strtoul(v, &end, 10);
	if (ver > UINT32_MAX || *end != '.' ||
	    strlen(end + 1) != DEV_HEX + 1 + DEV_MAC_HEX ||
	    end[1 + DEV_HEX] != '.' ||
	    sodium_hex2bin(device, SESSION_DEVICE_BYTES, end + 1, DEV_HEX, NULL,
	        &len, NULL) != 0 ||
	    len != SESSION_DEVICE_BYTES ||
	    sodium_hex2bin(mac, sizeof(mac), end + 2 + DEV_HEX, DEV_MAC_HEX,
	        NULL, &len, NULL) != 0 ||
	    len != sizeof(mac))
		return 0;
	/* A version dropped from the ring: the cookie is simply not valid. */
	if (dev_mac(c, (uint32_t)ver, device, email, want) == -1)
		return 0;
	ok = crypto_verify_32(mac, want) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

int
session_device_issue(struct ctx *c, const char *email)
{
	unsigned char nonce[SESSION_DEVICE_BYTES];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char          nhex[DEV_HEX + 1], mhex[DEV_MAC_HEX + 1], h[320];
	struct vault *v = app_vault(c->app);
	uint32_t      ver;

	if (v == NULL)
		return -1;
	ver = vault_current_version(v);
	randombytes_buf(nonce, sizeof(nonce));
	if (dev_mac(c, ver, nonce, email, mac) == -1)
		return -1;
	sodium_bin2hex(nhex, sizeof(nhex), nonce, sizeof(nonce));
	sodium_bin2hex(mhex, sizeof(mhex), mac, sizeof(mac));
	snprintf(h, sizeof(h),
	    "%s=%u.%s.%s; Path=/; Max-Age=%ld; HttpOnly; "
	    "SameSite=Lax%s",
	    dev_cookie(c), (unsigned)ver, nhex, mhex, DEV_MAX_AGE,
	    c->app->cfg->base_https ? "; Secure" : "");
	return resp_header(c->resp, "Set-Cookie", h);
}
