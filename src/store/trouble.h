/*
 * store/trouble: what the WABA's trouble webhooks do to the workspace
 * (doc/architecture.md, Trouble webhooks), inside the transaction that
 * stores them (store_wh_save): the templates table kept current from
 * the template fields, and the webhook warnings (health.hook_warnings,
 * workspace v8) that status --json, `health` and the Health card show
 * beside the monitor's own.
 */
#ifndef WABA_STORE_TROUBLE_H
#define WABA_STORE_TROUBLE_H

#include "sql.h"

struct webhook_event;
struct workspace;

/*
 * Applies a newly stored event (a redelivery is never applied twice):
 * template fields update the template's row; the others add or clear
 * their warning. Events of other kinds: nothing, STORE_OK.
 */
enum store_rc store_tr_apply_on(MYSQL *, const struct workspace *,
    const struct webhook_event *);

/*
 * The monitor's and the webhooks' warnings as one JSON array's text,
 * malloc'd: mon (the monitor's array, NULL: []) then each of hooks's
 * without its internal "key" member. NULL when out of memory.
 */
char *store_tr_merge(const char *mon, const char *hooks);

#endif
