/*
 * graph_health: the parsers of what the health monitor reads from Meta
 * (graph.h, "The health monitor's reads"): a phone number with its
 * health_status, messaging limit, throughput and webhook_configuration,
 * and a WABA's subscribed_apps. Pure functions, unit-tested in
 * tests/unit/test_graph.c. Shapes from Meta's references: "Health
 * Status" (GET /{node}?fields=health_status), "Webhook overrides"
 * (webhook_configuration), "Messaging limits" (whatsapp_business_
 * manager_messaging_limit) and "Subscribed Apps". A field the monitor
 * can do without that is absent stays ""; one of the wrong type is a
 * bad_response, as everywhere in graph_parse.c.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "graph.h"
#include "graph_int.h"
#include "jsonx.h"

/*
 * health_status.entities[].errors[]: kept up to GRAPH_HEALTH_ERRORS,
 * the rest dropped (the first say enough to act on). An entity or
 * error that is not an object is skipped: Meta adds entity types.
 */
static int
gh_entities(struct json_object *hs, struct graph_phone_health *h,
    struct graph_err *err)
{
	struct json_object        *ents, *ent, *errs, *e;
	struct graph_health_error *out;
	const char                *type;
	size_t                     i, j;

	if ((ents = jx_get(hs, "entities", json_type_array)) == NULL) {
		if (!jx_absent(hs, "entities"))
			return gp_missing(err, "health_status.entities",
			    "an array");
		return 0;
	}
	for (i = 0; i < json_object_array_length(ents); i++) {
		ent = json_object_array_get_idx(ents, i);
		if (ent == NULL || !json_object_is_type(ent, json_type_object))
			continue;
		type = jx_str(ent, "entity_type", NULL);
		if ((errs = jx_get(ent, "errors", json_type_array)) == NULL)
			continue;
		for (j = 0; j < json_object_array_length(errs) &&
		     h->nerrors < GRAPH_HEALTH_ERRORS;
		     j++) {
			e = json_object_array_get_idx(errs, j);
			if (e == NULL ||
			    !json_object_is_type(e, json_type_object))
				continue;
			out = &h->errors[h->nerrors++];
			jx_copy(out->entity, sizeof(out->entity),
			    type ? type : "");
			out->code = gp_long_lenient(e, "error_code");
			jx_copy(out->description, sizeof(out->description),
			    jx_str(e, "error_description", NULL)
			        ? jx_str(e, "error_description", NULL)
			        : "");
			jx_copy(out->solution, sizeof(out->solution),
			    jx_str(e, "possible_solution", NULL)
			        ? jx_str(e, "possible_solution", NULL)
			        : "");
		}
	}
	return 0;
}

/* AVAILABLE, LIMITED, BLOCKED: anything else is kept as Meta said it,
   cut to the field, for the operator to read. */
static int
gh_health(struct json_object *root, struct graph_phone_health *h,
    struct graph_err *err)
{
	struct json_object *hs;

	if ((hs = jx_get(root, "health_status", json_type_object)) == NULL) {
		if (!jx_absent(root, "health_status"))
			return gp_missing(err, "health_status", "an object");
		return 0;
	}
	if (gp_opt_copy(hs, "can_send_message", h->can_send,
	        sizeof(h->can_send), "health_status.can_send_message",
	        err) == -1)
		return -1;
	return gh_entities(hs, h, err);
}

static int
gh_hooks(struct json_object *root, struct graph_phone_health *h,
    struct graph_err *err)
{
	struct json_object *wc;

	if ((wc = jx_get(root, "webhook_configuration", json_type_object)) ==
	    NULL) {
		if (!jx_absent(root, "webhook_configuration"))
			return gp_missing(err, "webhook_configuration",
			    "an object");
		return 0;
	}
	h->has_hooks = 1;
	if (gp_opt_copy(wc, "phone_number", h->hook_phone,
	        sizeof(h->hook_phone), "webhook_configuration.phone_number",
	        err) == -1 ||
	    gp_opt_copy(wc, "whatsapp_business_account", h->hook_waba,
	        sizeof(h->hook_waba),
	        "webhook_configuration.whatsapp_business_account", err) == -1)
		return -1;
	return gp_opt_copy(wc, "application", h->hook_app, sizeof(h->hook_app),
	    "webhook_configuration.application", err);
}

int
graph_parse_phone_health(const char *body, size_t len,
    struct graph_phone_health *h, struct graph_err *err)
{
	struct json_object *root, *tp;
	int                 rc = -1;

	memset(h, 0, sizeof(*h));
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if (gp_phone(root, &h->phone, "", err) == -1 ||
	    gp_opt_copy(root, "whatsapp_business_manager_messaging_limit",
	        h->messaging_limit, sizeof(h->messaging_limit),
	        "whatsapp_business_manager_messaging_limit", err) == -1)
		goto out;
	/* throughput: {"level": "STANDARD" | "HIGH" | "NOT_APPLICABLE"} */
	if ((tp = jx_get(root, "throughput", json_type_object)) != NULL) {
		if (gp_opt_copy(tp, "level", h->throughput,
		        sizeof(h->throughput), "throughput.level", err) == -1)
			goto out;
	} else if (!jx_absent(root, "throughput")) {
		gp_missing(err, "throughput", "an object");
		goto out;
	}
	/* Before the deprecation, the tier was the number's limit. */
	if (h->messaging_limit[0] == '\0')
		memcpy(h->messaging_limit, h->phone.messaging_limit_tier,
		    sizeof(h->messaging_limit));
	if (gh_health(root, h, err) == -1 || gh_hooks(root, h, err) == -1)
		goto out;
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

const char *
graph_hook_effective(const struct graph_phone_health *h)
{
	if (h->hook_phone[0] != '\0')
		return h->hook_phone;
	if (h->hook_waba[0] != '\0')
		return h->hook_waba;
	return h->hook_app;
}

int
graph_parse_subscribed(const char *body, size_t len, const char *app_id,
    int *subscribed, struct graph_err *err)
{
	struct json_object *root, *data, *row, *api;
	const char         *id;
	size_t              i;
	int                 rc = -1;

	*subscribed = 0;
	if ((root = gp_root(body, len, err)) == NULL)
		return -1;
	if ((data = jx_get(root, "data", json_type_array)) == NULL) {
		gp_missing(err, "data", "an array");
		goto out;
	}
	for (i = 0; i < json_object_array_length(data); i++) {
		row = json_object_array_get_idx(data, i);
		if (row == NULL || !json_object_is_type(row, json_type_object))
			continue;
		if ((api = jx_get(row, "whatsapp_business_api_data",
		         json_type_object)) == NULL)
			continue;
		if ((id = jx_str(api, "id", NULL)) != NULL && app_id != NULL &&
		    strcmp(id, app_id) == 0)
			*subscribed = 1;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}
