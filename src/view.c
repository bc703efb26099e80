/*
 * view: the page writers, so that a handler never writes HTML or picks
 * an error page's look itself. Every page gets the same frame (mount
 * point, signed-in user, CSRF token) and every error the same template.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "buf.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "template.h"
#include "view.h"

enum answer
view_page(struct ctx *c, int status, const char *tmpl, struct json_object *data)
{
	char err[256];

	if (data == NULL)
		data = json_object_new_object();
	if (data == NULL)
		goto fail;
	json_object_object_add(data, "base",
	    json_object_new_string(c->app->mount));
	/* The header's sign-out form needs the user and the CSRF token. */
	if (c->has_sess) {
		struct json_object *u = json_object_new_object();
		json_object_object_add(u, "email",
		    json_object_new_string(c->sess.email));
		json_object_object_add(data, "user", u);
		json_object_object_add(data, "csrf_token",
		    json_object_new_string(c->sess.csrf));
	}
	/* Headers stay: a page may go with a Set-Cookie set before it. */
	buf_reset(&c->resp->body);
	snprintf(c->resp->ctype, sizeof(c->resp->ctype),
	    "text/html; charset=utf-8");
	c->resp->status = status;
	if (tmpl_render(c->app->tmpl, tmpl, data, &c->resp->body, err,
	        sizeof(err)) == -1) {
		log_err("render %s: %s", tmpl, err);
		goto fail;
	}
	json_object_put(data);
	return ANSWERED;
fail:
	json_object_put(data);
	resp_text(c->resp, 500,
	    "Internal error: the page could not be "
	    "rendered. Please try again.\n");
	return ANSWERED;
}

static const char *
view_title(int status)
{
	switch (status) {
	case 400:
		return "This request could not be understood";
	case 403:
		return "This action was refused";
	case 404:
		return "Page not found";
	case 405:
		return "This action is not available here";
	case 413:
		return "What you sent is too large";
	case 429:
		return "Please wait a moment";
	case 502:
		return "Meta could not complete this";
	case 503:
		return "Temporarily unavailable";
	case 504:
		return "Meta did not answer in time";
	default:
		return status >= 500 ? "Something went wrong on our side"
		                     : "This request could not be completed";
	}
}

enum answer
view_error_with(struct ctx *c, int status, const char *message,
    const char *retry_url, const char *reference, int reconnect)
{
	struct json_object *d;
	char                url[512];

	if ((d = json_object_new_object()) == NULL)
		return view_page(c, status, "error", NULL);
	json_object_object_add(d, "status", json_object_new_int(status));
	json_object_object_add(d, "title",
	    json_object_new_string(view_title(status)));
	json_object_object_add(d, "message", json_object_new_string(message));
	if (retry_url)
		json_object_object_add(d, "retry_url",
		    json_object_new_string(retry_url));
	if (reference && *reference)
		json_object_object_add(d, "reference",
		    json_object_new_string(reference));
	/* The request's id (log.h): what the operator finds in the logs. */
	if (*log_request_id())
		json_object_object_add(d, "request_id",
		    json_object_new_string(log_request_id()));
	if (reconnect && c->has_ws) {
		snprintf(url, sizeof(url), "%s/w/%s/settings/whatsapp/connect",
		    c->app->mount, c->ws.slug);
		json_object_object_add(d, "reconnect_url",
		    json_object_new_string(url));
	}
	return view_page(c, status, "error", d);
}

enum answer
view_error(struct ctx *c, int status, const char *message)
{
	return view_error_with(c, status, message, NULL, NULL, 0);
}

enum answer
view_internal(struct ctx *c, const char *what)
{
	log_err("%s %s: %s", c->req != NULL ? c->req->method_str : "-",
	    c->req != NULL && c->req->path != NULL ? c->req->path : "-", what);
	return view_error(c, 500, "Please try again in a moment.");
}
