/*
 * router: the route table of DESIGN §2. A pattern is a path whose
 * segments are literal or "{slug}"; a slug must match [a-z0-9-]{1,63}, so
 * handlers get a validated workspace slug or are never called.
 */
#ifndef WABA_ROUTER_H
#define WABA_ROUTER_H

#include <stddef.h>

struct ctx;

typedef int (*route_fn)(struct ctx *);

#define ROUTE_RAW_BODY	0x01	/* keep the body as bytes (webhooks) */
#define ROUTE_SESSION	0x02	/* needs a signed-in user */

struct route {
	int		 methods;	/* REQ_GET | REQ_POST ... */
	const char	*pattern;
	route_fn	 fn;
	int		 flags;
};

/*
 * Finds the route for method and path. Returns it, or NULL with *status
 * set to 404 (no such path) or 405 (path known, method not; *allowed
 * then holds the methods that are).
 */
const struct route *router_match(const struct route *, size_t,
		    int method, const char *path, char slug[64],
		    int *status, int *allowed);
int		 router_slug_valid(const char *, size_t);

#endif
