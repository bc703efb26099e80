/*
 * catbatch: what the API's POST /catalog/items may forward to Meta's
 * Catalog Batch API (POST /{catalog_id}/items_batch), checked at the
 * edge, and the Graph body built from it. Pure functions: no I/O.
 * Reference: Meta, Catalog Batch API, "Send Item Updates" and the
 * items_batch reference (item_type, requests[].method, requests[].data
 * with data.id the item's retailer id; at most 5,000 requests a call).
 */
#ifndef WABA_CATBATCH_H
#define WABA_CATBATCH_H

#include <stddef.h>

struct json_object;

#define CATBATCH_MAX_REQUESTS 5000 /* Meta: "up to 5,000 items" */
#define CATBATCH_ID_MAX       100  /* a retailer id's bytes (Meta: max 100) */
/* A batch handle's bytes: Meta's sample is 110; room for twice that. */
#define CATBATCH_HANDLE_MAX 256

/* Meta's item_type values, NULL-terminated (the route's IN_ENUM). */
extern const char *const catbatch_item_types[];

/*
 * Checks body's "requests": an array of 1..CATBATCH_MAX_REQUESTS
 * objects, each with exactly "method" (CREATE, UPDATE or DELETE) and
 * "data" (an object whose "id" is 1..CATBATCH_ID_MAX bytes of text).
 * 0 when it fits; -1 with why (for the caller's 400), naming the
 * request by its index, and *too_many set when only the count is wrong.
 */
int catbatch_check(struct json_object *body, int *too_many, char *why,
    size_t whylen);
/*
 * The items_batch JSON body {"item_type","requests":[...]} with the
 * requests as given (a JSON array: Graph takes a JSON body's nested
 * values as the parameter's value, as the Cloud API calls do; the form
 * encoding of Meta's curl samples would carry the same array as a JSON
 * string). malloc'd (free()), or NULL when out of memory.
 */
char *catbatch_body(const char *item_type, struct json_object *body);

#endif
