/*
 * push: the events feed pushed to the SaaS (doc/architecture.md, Push of
 * the events). With [events] push_url set, every event of every
 * workspace is POSTed there as the feed's JSON object (plus "workspace",
 * its slug), one event a request, signed with X-Waba-Signature-256:
 * sha256=<hex HMAC-SHA256 of the body under push_secret>, in id order
 * per workspace, again and again with a backoff until the receiver
 * answers 2xx (at least once: an event may come twice, always with the
 * same id, never out of order). The cursor and a per-workspace lease
 * live in the control database (store/push.h), so a receiver down for an
 * hour, a pusher killed or several pools on several hosts lose nothing.
 *
 * Runs as a child of the standalone supervisor (pool.c) when push_url is
 * set; it serves no request and makes no Meta call.
 */
#ifndef WABA_PUSH_H
#define WABA_PUSH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct db;
struct push;

/* NULL with err when libcurl cannot be set up. */
struct push *push_new(const struct config *, struct db *, char *err,
    size_t errlen);
void         push_free(struct push *);
/*
 * Pushes until *stop: each workspace when its events generation moved
 * (a delivery on this host, meta_gate.h), every few seconds anyway
 * (other hosts' deliveries), and when a backoff is over. wait_mask is
 * the mask to sleep with (the stop signal let in).
 */
void push_loop(struct push *, volatile sig_atomic_t *stop,
    const sigset_t *wait_mask);
/*
 * The X-Waba-Signature-256 value for body under secret:
 * "sha256=" and 64 hex digits, into out (at least PUSH_SIG_LEN + 1).
 */
#define PUSH_SIG_LEN 71
void push_sign(const char *secret, const char *body, size_t len, char *out);

#endif
