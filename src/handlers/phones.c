/*
 * Phone number selection: list the WABA's numbers (or, when the token
 * grants several WABAs, let the merchant pick one first), then register
 * the chosen number with its two-step-verification PIN and subscribe our
 * app to the WABA's webhooks. Only then is it the active sending number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../app.h"
#include "../graph.h"
#include "../log.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/tenants.h"
#include "../vault.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"

/* pick: the number to preselect, else the one in use (NULL: that one). */
static enum answer
phones_page(struct ctx *c, int status, const struct conn_row *r,
    const struct graph_phone *list, size_t n, const char *error,
    const char *reference, const char *pick)
{
	struct json_object *d, *arr, *o;
	char		 ids[1001], *tok, *save;
	size_t		 i;

	if ((d = json_object_new_object()) == NULL)
		return view_internal(c, "out of memory");
	json_object_object_add(d, "title",
	    json_object_new_string("Choose a phone number"));
	json_object_object_add(d, "workspace_name",
	    json_object_new_string(c->ws.name));
	json_object_object_add(d, "slug", json_object_new_string(c->ws.slug));
	if (error)
		json_object_object_add(d, "error", json_object_new_string(error));
	if (reference && *reference)
		json_object_object_add(d, "reference",
		    json_object_new_string(reference));
	arr = json_object_new_array();
	if (*r->waba_id == '\0') {
		/* Several WABAs granted: the merchant picks one first. */
		snprintf(ids, sizeof(ids), "%s", r->waba_ids);
		for (tok = strtok_r(ids, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save)) {
			o = json_object_new_object();
			json_object_object_add(o, "id",
			    json_object_new_string(tok));
			json_object_array_add(arr, o);
		}
		json_object_object_add(d, "wabas", arr);
		json_object_object_add(d, "choose_waba",
		    json_object_new_boolean(1));
		json_object_object_add(d, "title", json_object_new_string(
		    "Choose a business account"));
		return view_page(c, status, "phone_numbers", d);
	}
	json_object_object_add(d, "waba_id", json_object_new_string(r->waba_id));
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(list[i].id));
		json_object_object_add(o, "display_phone_number",
		    json_object_new_string(list[i].display_phone_number));
		json_object_object_add(o, "verified_name",
		    json_object_new_string(list[i].verified_name));
		json_object_object_add(o, "quality_rating",
		    json_object_new_string(list[i].quality_rating));
		json_object_object_add(o, "status",
		    json_object_new_string(list[i].status));
		if (strcmp(list[i].id, pick ? pick : r->phone_number_id) == 0)
			json_object_object_add(o, "selected",
			    json_object_new_boolean(1));
		json_object_array_add(arr, o);
	}
	json_object_object_add(d, "numbers", arr);
	if (n == 0)
		json_object_object_add(d, "no_numbers",
		    json_object_new_boolean(1));
	return view_page(c, status, "phone_numbers", d);
}

/* The row, with a token, and (when one is chosen) the WABA's numbers. */
static enum answer
phones_load(struct ctx *c, struct conn_row *r, struct graph_phone **list,
    size_t *n)
{
	struct vault_secret tok;
	struct graph_err e;
	int		 rc;

	*list = NULL;
	*n = 0;
	if (store_conn_get(c->app->db, &c->ws, r) != STORE_OK)
		return hm_db_down(c);
	if (!r->has_token)
		return hm_back(c, "not_connected");
	if (*r->waba_id == '\0')
		return GO_ON;
	if (hm_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	rc = graph_phone_numbers(c->app->graph, tok.data, r->waba_id, list, n,
	    &e);
	vault_secret_free(&tok);
	if (rc == -1)
		return hm_graph_failed(c, "listing your phone numbers", &e, 1);
	return GO_ON;
}

enum answer
h_phones_get(struct ctx *c)
{
	struct conn_row	 r;
	struct graph_phone *list;
	size_t		 n;
	enum answer	 rc;

	if (phones_load(c, &r, &list, &n) == ANSWERED)
		return ANSWERED;
	/* Declared digits (app.c); a number not listed selects nothing. */
	rc = phones_page(c, 200, &r, list, n, NULL, NULL,
	    c->in[PHONES_PICK].s);
	free(list);
	return rc;
}

static enum answer
phones_choose_waba(struct ctx *c, const char *waba)
{
	struct conn_row	 r;
	char		 url[512];
	enum store_rc	 rc;

	hm_settings_url(c, url, sizeof(url));
	strncat(url, "/phone-numbers", sizeof(url) - strlen(url) - 1);
	rc = store_conn_choose_waba(c->app->db, &c->ws, waba, c->sess.email);
	if (rc == STORE_NOTFOUND)
		return view_error_with(c, 400, "That WhatsApp Business Account "
		    "was not shared with this app. Choose one of the listed "
		    "accounts, or connect again.", url, NULL, 0);
	if (rc != STORE_OK)
		return hm_db_down(c);
	/*
	 * The row forgot the number: so must the routes, or the abandoned
	 * number's messages would still land here; and the chosen WABA is
	 * taken from a workspace merely granted it (tenants.h).
	 */
	if (store_conn_get(c->app->db, &c->ws, &r) != STORE_OK ||
	    store_route_replace(c->app->db, c->ws.id, r.waba_ids, r.waba_id,
	    *r.phone_number_id ? r.phone_number_id : NULL) != STORE_OK) {
		log_err("workspace %llu: webhook routes not updated",
		    (unsigned long long)c->ws.id);
		return view_error_with(c, 503, "The business account was "
		    "chosen, but the database did not answer while we "
		    "finished. Please choose it again in a moment.", url, NULL,
		    0);
	}
	resp_redirect(c->resp, 303, url);
	return ANSWERED;
}

enum answer
h_phones_post(struct ctx *c)
{
	const char	*phone = c->in[PHONES_PHONE].s;
	const char	*pin = c->in[PHONES_PIN].s;
	const char	*waba = c->in[PHONES_WABA].s;
	struct conn_row	 r;
	struct graph_phone *list = NULL, *pick = NULL;
	struct conn_phone cp;
	struct vault_secret tok;
	struct graph_err e;
	size_t		 n = 0, i;
	enum answer	 ret;
	int		 restricted;

	if (waba != NULL && phone == NULL)
		return phones_choose_waba(c, waba);
	if (phones_load(c, &r, &list, &n) == ANSWERED)
		return ANSWERED;
	if (*r.waba_id == '\0') {
		ret = phones_page(c, 400, &r, NULL, 0, "Choose a WhatsApp "
		    "Business Account first.", NULL, NULL);
		goto out;
	}
	for (i = 0; phone != NULL && i < n; i++)
		if (strcmp(list[i].id, phone) == 0)
			pick = &list[i];
	if (pick == NULL) {
		ret = phones_page(c, 400, &r, list, n, "Choose one of the "
		    "phone numbers listed below.", NULL, NULL);
		goto out;
	}
	/* Declared six digits (app.c); only its presence is left. */
	if (pin == NULL) {
		ret = phones_page(c, 400, &r, list, n, "Enter the number's "
		    "six-digit two-step verification PIN.", NULL, pick->id);
		goto out;
	}
	if ((ret = hm_token(c, VAULT_KIND_WABA, &tok)) == ANSWERED)
		goto out;
	if (graph_register(c->app->graph, tok.data, pick->id, pin, &e) == -1) {
		vault_secret_free(&tok);
		if (e.code == 133005) {
			log_info("workspace %llu: PIN refused for number %s "
			    "(code 133005 fbtrace_id %s)",
			    (unsigned long long)c->ws.id, pick->id,
			    graph_err_trace(&e));
			ret = phones_page(c, 400, &r, list, n, "Meta says this "
			    "two-step verification PIN is not right for the "
			    "number. Check it in WhatsApp Manager and try "
			    "again.", e.fbtrace_id, pick->id);
		}
		else
			ret = hm_graph_failed(c, "registering the number", &e,
			    1);
		goto out;
	}
	if (graph_subscribe(c->app->graph, tok.data, r.waba_id, &e) == -1) {
		vault_secret_free(&tok);
		ret = hm_graph_failed(c, "subscribing to your account's "
		    "webhooks", &e, 1);
		goto out;
	}
	vault_secret_free(&tok);
	cp.id = pick->id;
	cp.display_phone_number = pick->display_phone_number;
	cp.verified_name = pick->verified_name;
	cp.quality_rating = pick->quality_rating;
	if (store_conn_select_phone(c->app->db, &c->ws, &cp, c->sess.email) !=
	    STORE_OK) {
		ret = hm_db_down(c);
		goto out;
	}
	/*
	 * After the row, in one transaction of their own (see oauth.c).
	 * Without its route the number's messages would be dropped as
	 * unknown: say so, and let the merchant choose it again (register
	 * and subscribe are safe to repeat).
	 */
	if (store_route_replace(c->app->db, c->ws.id, r.waba_ids, r.waba_id,
	    pick->id) != STORE_OK) {
		log_err("workspace %llu: webhook routes not updated",
		    (unsigned long long)c->ws.id);
		ret = view_error(c, 503, "The number was registered, but the "
		    "database did not answer while we finished, so its "
		    "messages cannot reach this workspace yet. Please choose "
		    "the number again in a moment.");
		goto out;
	}
	log_info("workspace %llu: number %s active", (unsigned long long)c->ws.id,
	    pick->id);
	/* A restriction Meta reported still holds: say so, not "connected". */
	if (store_conn_restricted(c->app->db, &c->ws, &restricted) != STORE_OK)
		restricted = 0;
	ret = hm_back(c, restricted ? "restricted" : "connected");
out:
	free(list);
	return ret;
}
