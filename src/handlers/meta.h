/*
 * meta: what every handler that talks to Meta shares: the workspace's
 * token, decrypted only for the call, and one way to turn a failed Graph
 * call into stored state (190 → needs_reconnect) and a page in plain
 * words with a way forward.
 */
#ifndef WABA_HANDLERS_META_H
#define WABA_HANDLERS_META_H

#include "../app.h"
#include "../store/sql.h"

struct graph_err;
struct vault_secret;

/*
 * Decrypts the workspace's token of kind into out (wipe with
 * vault_secret_free). GO_ON, or ANSWERED when the page says why not.
 */
enum answer hm_token(struct ctx *, const char *kind, struct vault_secret *out);
/*
 * Answers a failed Graph call made while doing `what` ("listing your
 * phone numbers"). When stored is set the token was the workspace's own,
 * so a 190 marks the connection needs_reconnect. Returns ANSWERED.
 */
enum answer hm_graph_failed(struct ctx *, const char *what,
    const struct graph_err *, int                     stored);
/* 303 to the settings page with a flash message key. */
enum answer hm_back(struct ctx *, const char *flash);
/* The settings page's address, for links. */
void hm_settings_url(const struct ctx *, char *, size_t);
/*
 * Rewrites the workspace's webhook routes from its rows as they are now
 * (its WABAs, its numbers; routes.h). STORE_DUP when a number routes
 * to another workspace; a failure is logged here.
 */
enum store_rc hm_routes(struct ctx *);
/* Meta's messaging_limit_tier (TIER_1K...) in words; unknown as given. */
const char *hm_limit_words(const char *tier);
/* 503 page for a database that does not answer. */
enum answer hm_db_down(struct ctx *);

#endif
