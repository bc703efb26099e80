/*
 * meta: what every handler that talks to Meta shares: the workspace's
 * token, decrypted only for the call, and one way to turn a failed Graph
 * call into stored state (190 → needs_reconnect) and a page in plain
 * words with a way forward.
 */
#ifndef WABA_HANDLERS_META_H
#define WABA_HANDLERS_META_H

struct ctx;
struct graph_err;
struct vault_secret;

/*
 * Decrypts the workspace's token of kind into out (wipe with
 * vault_secret_free). Returns 0, or 1 when the page already says why not.
 */
int	 hm_token(struct ctx *, const char *kind, struct vault_secret *out);
/*
 * Answers a failed Graph call made while doing `what` ("listing your
 * phone numbers"). When stored is set the token was the workspace's own,
 * so a 190 marks the connection needs_reconnect. Always returns 0.
 */
int	 hm_graph_failed(struct ctx *, const char *what,
	    const struct graph_err *, int stored);
/* 303 to the settings page with a flash message key. */
int	 hm_back(struct ctx *, const char *flash);
/* The settings page's address, for links. */
void	 hm_settings_url(const struct ctx *, char *, size_t);
/* 503 page for a database that does not answer. */
int	 hm_db_down(struct ctx *);
/* Field checks at the edge. */
int	 hm_digits(const char *, size_t min, size_t max);
int	 hm_printable(const char *, size_t min, size_t max);

#endif
