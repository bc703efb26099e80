#include <stddef.h>

#include <json-c/json.h>

#include "../app.h"
#include "../view.h"
#include "handlers.h"

int
h_login_get(struct ctx *c)
{
	struct json_object *d = json_object_new_object();

	if (d)
		json_object_object_add(d, "title",
		    json_object_new_string("Sign in"));
	return view_page(c, 200, "login", d);
}
