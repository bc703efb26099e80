/*
 * The internal API's routes (/api/v1/, doc/contract.md, Internal API)
 * and the JSON answers they share. The gate in front of them (app.c,
 * app_api_gate) has checked the key, its scope and the workspace before
 * any of these runs; c->ws is the workspace the key may touch.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "../app.h"
#include "../log.h"
#include "../request.h"
#include "../response.h"
#include "../status.h"
#include "handlers.h"

enum answer
api_json(struct ctx *c, int status, struct json_object *o)
{
	const char *s;

	if (o == NULL ||
	    (s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	        NULL) {
		json_object_put(o);
		log_err("%s %s: out of memory", c->req->method_str,
		    c->req->path);
		resp_text(c->resp, 500,
		    "{\"error\":{\"code\":\"internal\","
		    "\"message\":\"out of memory\"}}");
	} else {
		resp_text(c->resp, status, s);
		json_object_put(o);
	}
	snprintf(c->resp->ctype, sizeof(c->resp->ctype), "application/json");
	return ANSWERED;
}

enum answer
api_error(struct ctx *c, int status, const char *code, const char *message)
{
	json_object *o, *e;

	if ((o = json_object_new_object()) == NULL ||
	    (e = json_object_new_object()) == NULL) {
		json_object_put(o);
		return api_json(c, status, NULL);
	}
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(o, "error", e);
	/* RFC 6750 §3: a 401 names the scheme it wants. */
	if (status == 401)
		resp_header(c->resp, "WWW-Authenticate", "Bearer");
	return api_json(c, status, o);
}

/* GET /api/v1/w/{slug}/connection: the object `status --json` prints. */
enum answer
h_api_connection(struct ctx *c)
{
	struct json_object *o;
	enum store_rc       rc;

	if ((rc = status_object(c->app->db, &c->ws, &o)) == STORE_OK)
		return api_json(c, 200, o);
	if (rc == STORE_GONE)
		return api_error(c, 503, "unavailable",
		    "the database is not "
		    "answering; try again in a moment");
	return api_error(c, 503, "unavailable",
	    "the connection could not "
	    "be read; try again in a moment");
}
