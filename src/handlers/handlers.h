/* Every route handler; one file per route family (STYLE.md). */
#ifndef WABA_HANDLERS_H
#define WABA_HANDLERS_H

struct ctx;

/* health.c */
int	h_healthz(struct ctx *);
/* auth.c */
/*
 * Once per worker, before it serves: the hash that unknown emails are
 * checked against, so that no sign-in pays for making it. -1 when out
 * of memory.
 */
int	auth_init(void);
int	h_login_get(struct ctx *);
int	h_login_post(struct ctx *);
int	h_logout(struct ctx *);
/* settings.c */
int	h_settings(struct ctx *);
/* oauth.c */
int	h_connect(struct ctx *);
int	h_oauth_callback(struct ctx *);
/* phones.c */
int	h_phones_get(struct ctx *);
int	h_phones_post(struct ctx *);
/* actions.c */
int	h_verify(struct ctx *);
int	h_test_message(struct ctx *);
int	h_disconnect(struct ctx *);
/* catalog.c */
int	h_catalog(struct ctx *);
int	h_catalog_disconnect(struct ctx *);
/* webhooks.c */
int	h_webhook_verify(struct ctx *);
int	h_webhook_event(struct ctx *);

#endif
