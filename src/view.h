/*
 * view: the only way a handler produces HTML. Pages are templates
 * rendered from a json-c object; the engine escapes every {{value}}, so
 * no handler ever writes markup or escapes by hand.
 */
#ifndef WABA_VIEW_H
#define WABA_VIEW_H

#include "app.h"

struct json_object;

/*
 * Renders template tmpl with data (ownership taken, may be NULL) into
 * the response with status. Adds the fields every page uses: "base"
 * (mount path) and "title" when missing.
 */
enum answer view_page(struct ctx *, int status, const char *tmpl,
    struct json_object *data);
/* The error page for status, with a plain-words message and a way forward. */
enum answer view_error(struct ctx *, int status, const char *message);

/*
 * The same with a way forward: retry_url (a link back), reference (Meta's
 * fbtrace_id, for support), and reconnect (a Reconnect button for the
 * workspace in c->ws). Any may be NULL/0.
 */
enum answer view_error_with(struct ctx *, int status, const char *message,
    const char *retry_url, const char *reference, int reconnect);

/*
 * A bug on our side (out of memory, a page that did not render): logs
 * what failed and writes the 500 page. Returns ANSWERED.
 */
enum answer view_internal(struct ctx *, const char *what);

#endif
