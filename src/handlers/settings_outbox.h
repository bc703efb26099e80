/*
 * settings_outbox: the settings page's Outbox card (settings_outbox.c).
 */
#ifndef WABA_HANDLERS_SETTINGS_OUTBOX_H
#define WABA_HANDLERS_SETTINGS_OUTBOX_H

struct conn_page;
struct json_object;

/*
 * d.outbox: the queue's counts as text ("12", "at least 961", "not
 * counted": outbox.h), the last hour's outcomes, how long the
 * longest-waiting message has waited, and why messages are paused, in
 * words; nothing when the workspace has no connection and its outbox
 * has nothing to show.
 */
void settings_outbox(struct json_object *d, const struct conn_page *);

#endif
