/*
 * router: the route table of doc/contract.md, Routes. A pattern is a path whose
 * segments are literal, "{slug}" or one other "{name}"; a slug must match
 * [a-z0-9-]{1,63}, so handlers get a validated workspace slug or are never
 * called, and the other segment (at most REQ_VAR_MAX bytes) is checked by the
 * route's IN_PATH field of that name before the handler runs.
 */
#ifndef WABA_ROUTER_H
#define WABA_ROUTER_H

#include <stddef.h>

#include "app.h"
#include "input.h"
#include "request.h"

typedef enum answer (*route_fn)(struct ctx *);

/*
 * How a route refuses what it was sent (a declared field that does not
 * fit, mainly): a page in the merchant's words, the JSON error of
 * doc/contract.md, Routes, for /api/ routes, or a short text for Meta's
 * callbacks.
 */
enum route_kind {
	ROUTE_PAGE, /* HTML error page, 400 */
	ROUTE_API,  /* {"error":{"code":"invalid_request",...}}, 400 */
	ROUTE_HOOK  /* refusal text with status 403 */
};

#define ROUTE_RAW_BODY 0x01 /* keep the body as bytes (webhooks) */
#define ROUTE_SESSION  0x02 /* needs a signed-in user */
/*
 * The body is a file's bytes, up to [api] max_upload_bytes: not read
 * before the handler, which checks its type and size from the headers
 * first (handlers/media.c), after the gate has said who is asking.
 */
#define ROUTE_UPLOAD 0x04
/*
 * ROUTE_API: the handler calls Meta with the connection's WhatsApp token
 * (api_ready_token), so the gate may read the connection and the key in
 * one statement (apigate_check).
 */
#define ROUTE_CONN 0x08
/*
 * ROUTE_API: the scope its key must hold, one APIKEY_SCOPE_ bit
 * (apikey.h), kept in flags above bit 8: ROUTE_SCOPE(APIKEY_SCOPE_...).
 * In flags rather than a member of its own because every entry of the
 * table is positional and -Wextra wants each member of each entry
 * spelled: a new member would change every route's line. An API route
 * without one is refused to every key (403), never open to all.
 */
#define ROUTE_SCOPE(bit)      ((int)(bit) << 8)
#define ROUTE_SCOPE_OF(flags) ((unsigned)(flags) >> 8)

struct route {
	int             methods; /* REQ_GET | REQ_POST ... */
	const char     *pattern;
	route_fn        fn;
	int             flags;
	enum route_kind kind;
	/* ROUTE_HOOK: what a refusal answers, e.g. "bad signature\n". */
	const char *refusal;
	/* Its inputs, checked before fn runs; the rest of in[] is zero. */
	struct in_field in[IN_MAX_FIELDS];
};
/* How many fields a route declares. */
size_t route_nfields(const struct route *);

/*
 * Finds the route for method and path. Returns it, or NULL with *status
 * set to 404 (no such path) or 405 (path known, method not; *allowed
 * then holds the methods that are).
 */
const struct route *router_match(const struct route *, size_t, int method,
    const char *path, char slug[64], struct req_var *, int *status,
    int *allowed);

#endif
