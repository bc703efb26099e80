/*
 * Sign-in and sign-out. Unknown email and wrong password look exactly
 * alike (same page, same status, and a password hash is verified either
 * way, so the timing matches too), and failures are throttled per email
 * and per client address (an IPv6 /64) - except for a browser holding a
 * device cookie from an earlier sign-in to that account, whose failures
 * are throttled per device instead (OWASP, "Slow Down Online Guessing
 * Attacks with Device Cookies"): someone guessing a password cannot lock
 * its owner out.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "../app.h"
#include "../log.h"
#include "../request.h"
#include "../response.h"
#include "../session.h"
#include "../store/sessions.h"
#include "../store/users.h"
#include "../view.h"
#include "handlers.h"

#define THROTTLE_EMAIL   10 /* failures per account ... */
#define THROTTLE_ADDR    30 /* ... or per client address (offices share one) ... */
#define THROTTLE_DEVICE  10 /* ... or per trusted device ... */
#define THROTTLE_MINUTES 15 /* ... in this window */

/* What unknown emails are checked against: see auth_init(). */
static char dummy_hash[crypto_pwhash_STRBYTES];

int
auth_init(void)
{
	if (dummy_hash[0] != '\0')
		return 0; /* a reload: the hash is as good as before */
	/*
	 * Same algorithm and limits as the accounts' hashes, so verifying
	 * it costs what verifying a real one does. Made here, not at the
	 * first unknown email: that attempt would otherwise cost two argon2
	 * runs and be told apart by its time.
	 */
	if (crypto_pwhash_str_alg(dummy_hash, "not a password", 14,
	        crypto_pwhash_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_MEMLIMIT_INTERACTIVE,
	        crypto_pwhash_ALG_ARGON2ID13) != 0) {
		dummy_hash[0] = '\0';
		return -1;
	}
	return 0;
}

static enum answer
login_page(struct ctx *c, int status, const char *email, const char *error)
{
	struct json_object *d = json_object_new_object();
	char                token[65];

	if (d == NULL || session_login_token(c, token) == -1) {
		json_object_put(d);
		return view_internal(c, "sign-in page: out of memory");
	}
	json_object_object_add(d, "title", json_object_new_string("Sign in"));
	json_object_object_add(d, "login_token", json_object_new_string(token));
	if (email)
		json_object_object_add(d, "email",
		    json_object_new_string(email));
	if (error)
		json_object_object_add(d, "error",
		    json_object_new_string(error));
	return view_page(c, status, "login", d);
}

/* Where a signed-in user belongs: their (first) workspace's settings. */
static enum answer
login_landing(struct ctx *c, uint64_t user)
{
	struct workspace ws;
	char             loc[512];

	switch (store_user_first_ws(c->app->db, user, &ws)) {
	case STORE_OK:
		snprintf(loc, sizeof(loc), "%s/w/%s/settings/whatsapp",
		    c->app->mount, ws.slug);
		resp_redirect(c->resp, 303, loc);
		return ANSWERED;
	case STORE_NOTFOUND:
		return view_error(c, 403,
		    "You are signed in, but your account "
		    "does not belong to any workspace yet. Ask your "
		    "administrator to add you.");
	default:
		return view_error(c, 503,
		    "The database is not answering. "
		    "Please try again in a moment.");
	}
}

enum answer
h_login_get(struct ctx *c)
{
	enum store_rc rc = session_load(c);

	if (rc == STORE_OK)
		return login_landing(c, c->sess.user_id);
	return login_page(c, 200, NULL, NULL);
}

static int
login_email_ok(const char *e)
{
	const char *at = strchr(e, '@');
	size_t      len = strlen(e);

	return len >= 3 && len <= 254 && at && at != e && at[1] &&
	    strchr(at + 1, '@') == NULL && strpbrk(e, " \t\r\n") == NULL;
}

enum answer
h_login_post(struct ctx *c)
{
	const char   *email_in = c->in[LOGIN_EMAIL].s;
	const char   *pw = c->in[LOGIN_PASSWORD].s;
	char          email[255], hash[crypto_pwhash_STRBYTES + 1] = "";
	char          addr[80];
	unsigned char device[SESSION_DEVICE_BYTES];
	struct store_sess_counts n;
	struct user              u;
	enum store_rc            rc;
	uint64_t                 attempt = 0;
	int                      trusted, limited, ok;
	size_t                   i;

	if (!session_login_token_ok(c, c->in[LOGIN_TOKEN].s))
		return view_error(c, 403,
		    "This sign-in form has expired. "
		    "Reload the sign-in page and try again.");
	if (email_in == NULL || pw == NULL || !login_email_ok(email_in) ||
	    *pw == '\0' || strlen(pw) > 1024)
		return login_page(c, 400,
		    email_in && strlen(email_in) < 255 ? email_in : NULL,
		    "Enter your email address and password.");
	for (i = 0; i < sizeof(email) - 1 && email_in[i]; i++)
		email[i] = (char)tolower((unsigned char)email_in[i]);
	email[i] = '\0';

	/*
	 * Counted as a failure before the password is even looked at, so
	 * that parallel guesses cannot all pass one count taken before any
	 * of them is recorded; taken back below when it was not a failure.
	 */
	trusted = session_device_check(c, email, device);
	req_addr_key(c->req->remote_addr, addr, sizeof(addr));
	rc = store_sess_attempt(c->app->db, email, addr,
	    trusted ? device : NULL, THROTTLE_MINUTES, &attempt, &n);
	if (rc != STORE_OK)
		goto unavailable;
	/*
	 * A locked-out device is refused rather than demoted to untrusted:
	 * it could otherwise spend the account's untrusted budget too.
	 */
	limited = trusted
	    ? n.by_device > THROTTLE_DEVICE
	    : n.by_email > THROTTLE_EMAIL || n.by_addr > THROTTLE_ADDR;
	if (limited) {
		/* Refused unread: it must not extend the lock-out. */
		if (store_sess_attempt_forget(c->app->db, attempt) != STORE_OK)
			goto unavailable;
		if (trusted)
			log_warn("sign-in throttled for a trusted device after "
			         "%d failures",
			    n.by_device - 1);
		else
			log_warn("sign-in throttled for a client after %d/%d "
			         "failures",
			    n.by_email - 1, n.by_addr - 1);
		return login_page(c, 429, email,
		    "Too many failed sign-in "
		    "attempts. Wait 15 minutes, then try again.");
	}

	rc = store_user_by_email(c->app->db, email, &u, hash, sizeof(hash));
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		goto unavailable;
	if (rc == STORE_NOTFOUND) {
		/* Spend the same time as for a real account. */
		if (dummy_hash[0] == '\0')
			return view_internal(c, "auth_init() was not run");
		/* The result is irrelevant: no account means no sign-in. */
		ok = crypto_pwhash_str_verify(dummy_hash, pw, strlen(pw)) == 0;
		ok = 0;
	} else
		ok = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
	sodium_memzero(hash, sizeof(hash));
	if (!ok)
		return login_page(c, 401, email,
		    "That email and password do "
		    "not match an account.");
	if (store_sess_attempt_forget(c->app->db, attempt) != STORE_OK ||
	    (rc = session_start(c, u.id)) != STORE_OK)
		goto unavailable;
	/* A fresh one each time (OWASP); without it, only the lockout bites. */
	if (session_device_issue(c, email) == -1)
		log_warn("user %llu: no device cookie issued (key ring?)",
		    (unsigned long long)u.id);
	log_info("user %llu signed in", (unsigned long long)u.id);
	return login_landing(c, u.id);
unavailable:
	return view_error(c, 503,
	    "The database is not answering. Please try "
	    "again in a moment.");
}

enum answer
h_logout(struct ctx *c)
{
	char loc[300];

	if (session_end(c) != STORE_OK)
		return view_error(c, 503,
		    "The database is not answering. "
		    "Please try again in a moment.");
	snprintf(loc, sizeof(loc), "%s/login", c->app->mount);
	resp_redirect(c->resp, 303, loc);
	return ANSWERED;
}
