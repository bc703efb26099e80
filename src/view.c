#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "buf.h"
#include "log.h"
#include "response.h"
#include "template.h"
#include "view.h"

int
view_page(struct ctx *c, int status, const char *tmpl,
    struct json_object *data)
{
	char	 err[256];

	if (data == NULL)
		data = json_object_new_object();
	if (data == NULL)
		goto fail;
	json_object_object_add(data, "base",
	    json_object_new_string(c->app->mount));
	resp_reset(c->resp);
	c->resp->status = status;
	if (tmpl_render(c->app->tmpl, tmpl, data, &c->resp->body, err,
	    sizeof(err)) == -1) {
		log_err("render %s: %s", tmpl, err);
		goto fail;
	}
	json_object_put(data);
	return 0;
fail:
	json_object_put(data);
	resp_text(c->resp, 500, "Internal error: the page could not be "
	    "rendered. Please try again.\n");
	return 0;
}

static const char *
view_title(int status)
{
	switch (status) {
	case 400: return "This request could not be understood";
	case 403: return "This action was refused";
	case 404: return "Page not found";
	case 405: return "This action is not available here";
	case 413: return "What you sent is too large";
	case 503: return "Temporarily unavailable";
	default: return status >= 500 ? "Something went wrong on our side" :
	    "This request could not be completed";
	}
}

int
view_error(struct ctx *c, int status, const char *message)
{
	struct json_object *d;

	if ((d = json_object_new_object()) == NULL)
		return view_page(c, status, "error", NULL);
	json_object_object_add(d, "status", json_object_new_int(status));
	json_object_object_add(d, "title",
	    json_object_new_string(view_title(status)));
	json_object_object_add(d, "message", json_object_new_string(message));
	return view_page(c, status, "error", d);
}
