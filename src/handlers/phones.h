/*
 * phones: what adding a number (phones.c) shares with what is done to a
 * number afterwards (phone_actions.c).
 */
#ifndef WABA_HANDLERS_PHONES_H
#define WABA_HANDLERS_PHONES_H

#include "../app.h"
#include "../graph.h"

struct conn_row;
struct num_row;
struct phones_list;
struct vault_box;

/* A number that can be added, and the WABA it is on. */
struct phones_item {
	struct graph_phone p;
	char               waba_id[33];
	int                mine; /* used here already: not offered */
};

struct json_object;

/* Adds the string member k (v NULL: "") to a page's object. */
void phones_add_str(struct json_object *, const char *k, const char *v);
/* A stored number as an item (to register it, to store it again). */
void phones_item_from_row(const struct num_row *, struct phones_item *);
/*
 * Stores pick in state (with words for the merchant and, for a failed
 * registration, when to try again; pin: a sealed PIN to keep, or NULL),
 * then the workspace's routes. GO_ON, or ANSWERED with the page.
 */
enum answer phones_store(struct ctx *, const struct phones_item *pick,
    const char *state, const char *detail, int retry_seconds,
    const struct vault_box *pin, int *made_default);
/*
 * Registers pick (not a coexistence number), after setting pin as its
 * PIN when set_pin, and subscribes to its WABA. l NULL: a refusal is a
 * page of its own, not the numbers page again. GO_ON or ANSWERED.
 */
enum answer phones_register(struct ctx *, const struct conn_row *,
    const struct phones_list *l, const struct phones_item *pick,
    const char *pin, int set_pin);
/* Registered: stored as active, and the merchant told so (ANSWERED). */
enum answer phones_active(struct ctx *, const struct phones_item *pick,
    int first);
/* The number named in the path, one of the workspace's (else 404). */
enum answer phones_mine(struct ctx *, const char *id, struct num_row *);

#endif
