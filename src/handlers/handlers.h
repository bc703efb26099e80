/* Every route handler; one file per route family (STYLE.md). */
#ifndef WABA_HANDLERS_H
#define WABA_HANDLERS_H

struct ctx;

/* health.c */
int	h_healthz(struct ctx *);
/* auth.c */
int	h_login_get(struct ctx *);

#endif
