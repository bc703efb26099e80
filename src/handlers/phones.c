/*
 * Phone numbers: list the numbers a workspace can add (those of its
 * chosen WABA and of the other WABAs its token grants, that no workspace
 * uses yet; when the token grants several WABAs and none is chosen, the
 * merchant picks one first), add one (register it with its two-step
 * verification PIN, subscribe our app to its WABA's webhooks), make one
 * the default sender, or stop using one (and, when asked and confirmed,
 * deregister it at Meta).
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
#include "../store/numbers.h"
#include "../store/tenants.h"
#include "../vault.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"

/* Granted WABAs whose numbers are listed: a merchant has a handful. */
#define PHONES_MAX_WABAS	10

/* A number that can be added, and the WABA it is on. */
struct phones_item {
	struct graph_phone	 p;
	char			 waba_id[33];
	int			 mine;	/* used here already: not offered */
};

struct phones_list {
	struct phones_item	*v;
	size_t			 n;
	struct num_row		*mine;	/* the workspace's numbers */
	size_t			 nmine;
};

static void
phones_list_free(struct phones_list *l)
{
	free(l->v);
	free(l->mine);
	memset(l, 0, sizeof(*l));
}

static void
phones_add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static enum answer
phones_page(struct ctx *c, int status, const struct conn_row *r,
    const struct phones_list *l, const char *error, const char *reference)
{
	struct json_object *d, *arr, *o;
	char		 ids[1001], *tok, *save;
	size_t		 i, shown;

	if ((d = json_object_new_object()) == NULL)
		return view_internal(c, "out of memory");
	phones_add_str(d, "title", l->nmine > 0 ? "Add a phone number" :
	    "Choose a phone number");
	phones_add_str(d, "workspace_name", c->ws.name);
	phones_add_str(d, "slug", c->ws.slug);
	if (error)
		phones_add_str(d, "error", error);
	if (reference && *reference)
		phones_add_str(d, "reference", reference);
	arr = json_object_new_array();
	if (*r->waba_id == '\0') {
		/* Several WABAs granted: the merchant picks one first. */
		snprintf(ids, sizeof(ids), "%s", r->waba_ids);
		for (tok = strtok_r(ids, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save)) {
			o = json_object_new_object();
			phones_add_str(o, "id", tok);
			json_object_array_add(arr, o);
		}
		json_object_object_add(d, "wabas", arr);
		json_object_object_add(d, "choose_waba",
		    json_object_new_boolean(1));
		phones_add_str(d, "title", "Choose a business account");
		return view_page(c, status, "phone_numbers", d);
	}
	phones_add_str(d, "waba_id", r->waba_id);
	if (l->nmine > 0)
		json_object_object_add(d, "adding", json_object_new_boolean(1));
	for (i = 0, shown = 0; i < l->n; i++) {
		const struct graph_phone *p = &l->v[i].p;

		if (l->v[i].mine)
			continue;
		o = json_object_new_object();
		phones_add_str(o, "id", p->id);
		phones_add_str(o, "waba_id", l->v[i].waba_id);
		phones_add_str(o, "display_phone_number",
		    p->display_phone_number);
		phones_add_str(o, "verified_name", p->verified_name);
		phones_add_str(o, "quality_rating", p->quality_rating);
		phones_add_str(o, "status", p->status);
		if (*p->messaging_limit_tier)
			phones_add_str(o, "messaging_limit",
			    hm_limit_words(p->messaging_limit_tier));
		if (p->on_biz_app)
			json_object_object_add(o, "coexistence",
			    json_object_new_boolean(1));
		if (strcmp(l->v[i].waba_id, r->waba_id) != 0)
			json_object_object_add(o, "other_waba",
			    json_object_new_boolean(1));
		if (shown++ == 0)
			json_object_object_add(o, "selected",
			    json_object_new_boolean(1));
		json_object_array_add(arr, o);
	}
	json_object_object_add(d, "numbers", arr);
	if (shown == 0)
		json_object_object_add(d, "no_numbers",
		    json_object_new_boolean(1));
	return view_page(c, status, "phone_numbers", d);
}

/*
 * Whether a number is in use: by another workspace (its route says so),
 * or by this one (its row and its route). A row of ours without its
 * route is a number whose adding did not finish: it can be added again,
 * which finishes it (register and subscribe are safe to repeat).
 */
static enum answer
phones_used(struct ctx *c, const struct phones_list *l, const char *id,
    int *used, int *other)
{
	uint64_t	 owner;
	enum store_rc	 rc;
	size_t		 i;

	*used = *other = 0;
	rc = store_route_find(c->app->db, "phone", id, &owner);
	if (rc == STORE_NOTFOUND)
		return GO_ON;
	if (rc != STORE_OK)
		return hm_db_down(c);
	if (owner != c->ws.id) {
		*used = *other = 1;
		return GO_ON;
	}
	for (i = 0; i < l->nmine; i++)
		if (strcmp(l->mine[i].id, id) == 0)
			*used = 1;
	return GO_ON;
}

/*
 * The numbers of one WABA that no other workspace uses, appended to l;
 * this workspace's own are marked: adding one again registers it again
 * and refreshes its details, as choosing it did before there were
 * several.
 */
static enum answer
phones_fetch(struct ctx *c, const char *token, const char *waba,
    struct phones_list *l)
{
	struct graph_phone *list = NULL;
	struct phones_item *nv;
	struct graph_err e;
	size_t		 n = 0, i;
	int		 used, other;

	if (graph_phone_numbers(c->app->graph, token, waba, &list, &n, &e) ==
	    -1)
		return hm_graph_failed(c, "listing your phone numbers", &e, 1);
	for (i = 0; i < n; i++) {
		if (phones_used(c, l, list[i].id, &used, &other) == ANSWERED) {
			free(list);
			return ANSWERED;
		}
		if (other)
			continue;
		if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL) {
			free(list);
			return view_internal(c, "out of memory");
		}
		l->v = nv;
		l->v[l->n].p = list[i];
		snprintf(l->v[l->n].waba_id, sizeof(l->v[l->n].waba_id), "%s",
		    waba);
		l->v[l->n].mine = used;
		l->n++;
	}
	free(list);
	return GO_ON;
}

/* The row, the workspace's numbers, and the numbers it can add. */
static enum answer
phones_load(struct ctx *c, struct conn_row *r, struct phones_list *l)
{
	struct vault_secret tok;
	char		 ids[1001], *w, *save;
	int		 count = 0;

	memset(l, 0, sizeof(*l));
	if (store_conn_get(c->app->db, &c->ws, r) != STORE_OK ||
	    store_num_list(c->app->db, &c->ws, &l->mine, &l->nmine) !=
	    STORE_OK)
		return hm_db_down(c);
	if (!r->has_token)
		return hm_back(c, "not_connected");
	if (*r->waba_id == '\0')
		return GO_ON;
	if (hm_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	/* The chosen WABA first, then the others the token grants. */
	if (phones_fetch(c, tok.data, r->waba_id, l) == ANSWERED)
		goto answered;
	snprintf(ids, sizeof(ids), "%s", r->waba_ids);
	for (w = strtok_r(ids, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, r->waba_id) == 0)
			continue;
		if (++count >= PHONES_MAX_WABAS) {
			log_info("workspace %llu: numbers of WABAs after the "
			    "%dth not listed", (unsigned long long)c->ws.id,
			    PHONES_MAX_WABAS);
			break;
		}
		if (phones_fetch(c, tok.data, w, l) == ANSWERED)
			goto answered;
	}
	vault_secret_free(&tok);
	return GO_ON;
answered:
	vault_secret_free(&tok);
	return ANSWERED;
}

enum answer
h_phones_get(struct ctx *c)
{
	struct conn_row	 r;
	struct phones_list l;
	enum answer	 rc;

	if (phones_load(c, &r, &l) == ANSWERED) {
		phones_list_free(&l);
		return ANSWERED;
	}
	rc = phones_page(c, 200, &r, &l, NULL, NULL);
	phones_list_free(&l);
	return rc;
}

static enum answer
phones_choose_waba(struct ctx *c, const char *waba)
{
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
	 * The rows forgot the numbers: so must the routes, or the abandoned
	 * numbers' messages would still land here; and the chosen WABA is
	 * taken from a workspace merely granted it (tenants.h).
	 */
	if (hm_routes(c) != STORE_OK)
		return view_error_with(c, 503, "The business account was "
		    "chosen, but the database did not answer while we "
		    "finished. Please choose it again in a moment.", url, NULL,
		    0);
	resp_redirect(c->resp, 303, url);
	return ANSWERED;
}

/* Registers pick (unless it is also on the WhatsApp Business app, which
   registration would take off the app) and subscribes to its WABA. */
static enum answer
phones_register(struct ctx *c, const struct conn_row *r,
    const struct phones_list *l, const struct phones_item *pick,
    const char *pin)
{
	struct vault_secret tok;
	struct graph_err e;
	enum answer	 ret;

	if ((ret = hm_token(c, VAULT_KIND_WABA, &tok)) == ANSWERED)
		return ANSWERED;
	if (!pick->p.on_biz_app && graph_register(c->app->graph, tok.data,
	    pick->p.id, pin, &e) == -1) {
		vault_secret_free(&tok);
		if (e.code == 133005) {
			log_info("workspace %llu: PIN refused for number %s "
			    "(code 133005 fbtrace_id %s)",
			    (unsigned long long)c->ws.id, pick->p.id,
			    graph_err_trace(&e));
			return phones_page(c, 400, r, l, "Meta says this "
			    "two-step verification PIN is not right for the "
			    "number. Check it in WhatsApp Manager and try "
			    "again.", e.fbtrace_id);
		}
		return hm_graph_failed(c, "registering the number", &e, 1);
	}
	if (graph_subscribe(c->app->graph, tok.data, pick->waba_id, &e) ==
	    -1) {
		vault_secret_free(&tok);
		return hm_graph_failed(c, "subscribing to your account's "
		    "webhooks", &e, 1);
	}
	vault_secret_free(&tok);
	return GO_ON;
}

enum answer
h_phones_post(struct ctx *c)
{
	const char	*phone = c->in[PHONES_PHONE].s;
	const char	*pin = c->in[PHONES_PIN].s;
	const char	*waba = c->in[PHONES_WABA].s;
	struct conn_row	 r;
	struct phones_list l;
	const struct phones_item *pick = NULL;
	struct num_add	 a;
	size_t		 i;
	enum answer	 ret;
	enum store_rc	 rc;
	int		 restricted, made_default, used, other;

	if (waba != NULL && phone == NULL)
		return phones_choose_waba(c, waba);
	if (phones_load(c, &r, &l) == ANSWERED) {
		ret = ANSWERED;
		goto out;
	}
	if (*r.waba_id == '\0') {
		ret = phones_page(c, 400, &r, &l, "Choose a WhatsApp "
		    "Business Account first.", NULL);
		goto out;
	}
	for (i = 0; phone != NULL && i < l.n; i++)
		if (strcmp(l.v[i].p.id, phone) == 0)
			pick = &l.v[i];
	if (pick == NULL) {
		if (phone != NULL && (ret = phones_used(c, &l, phone, &used,
		    &other)) == ANSWERED)
			goto out;
		ret = phones_page(c, phone != NULL && used ? 409 : 400, &r,
		    &l, phone == NULL || !used ? "Choose one of the phone "
		    "numbers listed below." : other ? "That number is already "
		    "used by another workspace. A number sends for one "
		    "workspace only: remove it there first." : "This "
		    "workspace already uses that number.", NULL);
		goto out;
	}
	/* Declared six digits (app.c); only its presence is left. */
	if (pin == NULL && !pick->p.on_biz_app) {
		ret = phones_page(c, 400, &r, &l, "Enter the number's "
		    "six-digit two-step verification PIN.", NULL);
		goto out;
	}
	if ((ret = phones_register(c, &r, &l, pick, pin)) == ANSWERED)
		goto out;
	memset(&a, 0, sizeof(a));
	a.id = pick->p.id;
	a.waba_id = pick->waba_id;
	a.display_phone_number = pick->p.display_phone_number;
	a.verified_name = pick->p.verified_name;
	a.quality_rating = pick->p.quality_rating;
	a.status = pick->p.status;
	a.code_verification_status = pick->p.code_verification_status;
	a.messaging_limit = pick->p.messaging_limit_tier;
	a.state = NUM_ACTIVE;
	a.coexistence = pick->p.on_biz_app;
	if (store_num_put(c->app->db, &c->ws, &a, c->sess.email,
	    &made_default) != STORE_OK) {
		ret = hm_db_down(c);
		goto out;
	}
	/*
	 * After the rows. Without its route the number's messages would be
	 * dropped as unknown: say so, and let the merchant add it again
	 * (register and subscribe are safe to repeat). Another workspace
	 * that added the same number a moment before keeps it.
	 */
	if ((rc = hm_routes(c)) == STORE_DUP) {
		(void)store_num_remove(c->app->db, &c->ws, pick->p.id,
		    c->sess.email);
		ret = phones_page(c, 409, &r, &l, "That number is already used "
		    "by another workspace. A number sends for one workspace "
		    "only: remove it there first.", NULL);
		goto out;
	}
	if (rc != STORE_OK) {
		ret = view_error(c, 503, "The number was registered, but the "
		    "database did not answer while we finished, so its "
		    "messages cannot reach this workspace yet. Please add "
		    "the number again in a moment.");
		goto out;
	}
	log_info("workspace %llu: number %s active%s",
	    (unsigned long long)c->ws.id, pick->p.id,
	    made_default ? " (default)" : "");
	/* A restriction Meta reported still holds: say so, not "connected". */
	if (store_conn_restricted(c->app->db, &c->ws, &restricted) != STORE_OK)
		restricted = 0;
	ret = hm_back(c, restricted ? "restricted" : l.nmine == 0 ?
	    "connected" : "phone_added");
out:
	phones_list_free(&l);
	return ret;
}

enum answer
h_phone_default(struct ctx *c)
{
	const char	*id = c->in[PHONE_ID].s;
	enum store_rc	 rc;

	rc = store_num_default(c->app->db, &c->ws, id, c->sess.email);
	if (rc == STORE_NOTFOUND)
		return view_error(c, 400, "Only a registered number this "
		    "workspace uses can be its default sender.");
	if (rc != STORE_OK)
		return hm_db_down(c);
	log_info("workspace %llu: number %s is the default",
	    (unsigned long long)c->ws.id, id);
	return hm_back(c, "default_changed");
}

/* Deregistering takes the number off Cloud API: ask before doing it. */
static enum answer
phones_confirm(struct ctx *c, const struct num_row *n)
{
	struct json_object *d;

	if ((d = json_object_new_object()) == NULL)
		return view_internal(c, "out of memory");
	phones_add_str(d, "title", "Deregister this number?");
	phones_add_str(d, "workspace_name", c->ws.name);
	phones_add_str(d, "slug", c->ws.slug);
	phones_add_str(d, "id", n->id);
	phones_add_str(d, "display_phone_number", n->display_phone_number);
	return view_page(c, 200, "phone_remove", d);
}

enum answer
h_phone_remove(struct ctx *c)
{
	const char	*id = c->in[REMOVE_ID].s;
	int		 dereg = c->in[REMOVE_DEREGISTER].set;
	struct vault_secret tok;
	struct num_row	 n;
	struct graph_err e;
	enum store_rc	 rc;

	rc = store_num_get(c->app->db, &c->ws, id, &n);
	if (rc == STORE_NOTFOUND)
		return view_error(c, 404, "This workspace does not use that "
		    "number.");
	if (rc != STORE_OK)
		return hm_db_down(c);
	if (dereg && !c->in[REMOVE_CONFIRM].set)
		return phones_confirm(c, &n);
	/*
	 * Deregister before forgetting: when Meta refuses, the number stays
	 * in use here, as it still is at Meta. Coexistence numbers are not
	 * registered with us, so there is nothing to deregister.
	 */
	if (dereg && !n.coexistence) {
		if (hm_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
			return ANSWERED;
		if (graph_deregister(c->app->graph, tok.data, id, &e) == -1) {
			vault_secret_free(&tok);
			return hm_graph_failed(c, "deregistering the number",
			    &e, 1);
		}
		vault_secret_free(&tok);
		log_info("workspace %llu: number %s deregistered",
		    (unsigned long long)c->ws.id, id);
	}
	rc = store_num_remove(c->app->db, &c->ws, id, c->sess.email);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return hm_db_down(c);
	if (hm_routes(c) != STORE_OK)
		return view_error(c, 503, "The number was removed, but the "
		    "database did not answer while we finished. Please remove "
		    "it again in a moment.");
	log_info("workspace %llu: number %s removed",
	    (unsigned long long)c->ws.id, id);
	return hm_back(c, dereg ? "phone_deregistered" : "phone_removed");
}
