/*
 * sender: `waba-connect --sender` (doc/architecture.md, The sender), the
 * process that drains every workspace's outbox: one event loop over
 * libcurl's multi interface (HTTP/2 where Graph offers it), at most
 * [sender] max_in_flight sends at once, each number paced to
 * per_number_mps and each recipient to pair_interval_ms through the
 * database (store/outbox_send.c), so that any number of senders on any
 * number of hosts share Meta's limits and never send a message twice.
 */
#ifndef WABA_SENDER_H
#define WABA_SENDER_H

#include <signal.h>

struct app;

/*
 * Runs until *stop: then claims nothing more, waits for what is in
 * flight (at most [meta] timeout_ms and a second) and gives back what
 * was claimed but not sent. 0, or 1 when it could not start.
 */
int sender_run(struct app *, volatile sig_atomic_t *stop);

#endif
