/*
 * Adding phone numbers: list the numbers a workspace can add (those of
 * its chosen WABA and of the other WABAs its token grants, that no
 * workspace uses yet; when the token grants several WABAs and none is
 * chosen, the merchant picks one first), and add one: register it with
 * its two-step verification PIN (or keep it waiting, with what to do,
 * when Meta refuses for now) and subscribe our app to its WABA's
 * webhooks. A number also on the WhatsApp Business app (coexistence) is
 * not registered. What happens to a number once added is in
 * phone_actions.c.
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
#include "../store/routes.h"
#include "../vault.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"
#include "phones.h"

/* Granted WABAs whose numbers are listed: a merchant has a handful. */
#define PHONES_MAX_WABAS 10

struct phones_list {
	struct phones_item *v;
	size_t              n;
	struct num_row     *mine; /* the workspace's numbers */
	size_t              nmine;
};

static void
phones_list_free(struct phones_list *l)
{
	free(l->v);
	free(l->mine);
	memset(l, 0, sizeof(*l));
}

void
phones_add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* pick: the number to preselect (NULL: the first one listed). */
static enum answer
phones_page(struct ctx *c, int status, const struct conn_row *r,
    const struct phones_list *l, const char *error, const char *reference,
    const char *pick)
{
	struct json_object *d, *arr, *o;
	char                ids[1001], *tok, *save;
	size_t              i, shown;

	if ((d = json_object_new_object()) == NULL)
		return view_internal(c, "out of memory");
	phones_add_str(d, "title",
	    l->nmine > 0 ? "Add a phone number" : "Choose a phone number");
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
		if (pick != NULL ? strcmp(p->id, pick) == 0 : shown == 0)
			json_object_object_add(o, "selected",
			    json_object_new_boolean(1));
		shown++;
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
 * or by this one (its route, and its row says it sends). A row of ours
 * without its route, or one still waiting, is a number whose adding did
 * not finish: it is offered again, and adding it finishes it.
 */
static enum answer
phones_used(struct ctx *c, const struct phones_list *l, const char *id,
    int *used, int *other)
{
	uint64_t      owner;
	enum store_rc rc;
	size_t        i;

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
		if (strcmp(l->mine[i].id, id) == 0 &&
		    strcmp(l->mine[i].state, NUM_ACTIVE) == 0)
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
	struct graph_err    e;
	size_t              n = 0, i;
	int                 used, other;

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
	char                ids[1001], *w, *save;
	int                 count = 0;

	memset(l, 0, sizeof(*l));
	if (store_conn_get(c->app->db, &c->ws, r) != STORE_OK ||
	    store_num_list(c->app->db, &c->ws, &l->mine, &l->nmine) != STORE_OK)
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
			         "%dth not listed",
			    (unsigned long long)c->ws.id, PHONES_MAX_WABAS);
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
	struct conn_row    r;
	struct phones_list l;
	enum answer        rc;

	if (phones_load(c, &r, &l) == ANSWERED) {
		phones_list_free(&l);
		return ANSWERED;
	}
	/* Declared digits (app.c); a number not listed selects nothing. */
	rc = phones_page(c, 200, &r, &l, NULL, NULL, c->in[PHONES_PICK].s);
	phones_list_free(&l);
	return rc;
}

static enum answer
phones_choose_waba(struct ctx *c, const char *waba)
{
	char          url[512];
	enum store_rc rc;

	hm_settings_url(c, url, sizeof(url));
	strncat(url, "/phone-numbers", sizeof(url) - strlen(url) - 1);
	rc = store_conn_choose_waba(c->app->db, &c->ws, waba, c->sess.email);
	if (rc == STORE_NOTFOUND)
		return view_error_with(c, 400,
		    "That WhatsApp Business Account "
		    "was not shared with this app. Choose one of the listed "
		    "accounts, or connect again.",
		    url, NULL, 0);
	if (rc != STORE_OK)
		return hm_db_down(c);
	/*
	 * The rows forgot the numbers: so must the routes, or the abandoned
	 * numbers' messages would still land here; and the chosen WABA is
	 * taken from a workspace merely granted it (routes.h).
	 */
	if (hm_routes(c) != STORE_OK)
		return view_error_with(c, 503,
		    "The business account was "
		    "chosen, but the database did not answer while we "
		    "finished. Please choose it again in a moment.",
		    url, NULL, 0);
	resp_redirect(c->resp, 303, url);
	return ANSWERED;
}

/* What a stored number needs to become an item (verify-code). */
void
phones_item_from_row(const struct num_row *n, struct phones_item *it)
{
	memset(it, 0, sizeof(*it));
	snprintf(it->p.id, sizeof(it->p.id), "%s", n->id);
	snprintf(it->p.display_phone_number, sizeof(it->p.display_phone_number),
	    "%s", n->display_phone_number);
	snprintf(it->p.verified_name, sizeof(it->p.verified_name), "%s",
	    n->verified_name);
	snprintf(it->p.quality_rating, sizeof(it->p.quality_rating), "%s",
	    n->quality_rating);
	snprintf(it->p.status, sizeof(it->p.status), "%s", n->status);
	snprintf(it->p.code_verification_status,
	    sizeof(it->p.code_verification_status), "%s",
	    n->code_verification_status);
	snprintf(it->p.messaging_limit_tier, sizeof(it->p.messaging_limit_tier),
	    "%s", n->messaging_limit);
	it->p.on_biz_app = n->coexistence;
	snprintf(it->waba_id, sizeof(it->waba_id), "%s", n->waba_id);
	it->mine = 1;
}

/*
 * Stores pick in state (with words for the merchant and, for a failed
 * registration, when to try again), then its route. GO_ON, or ANSWERED
 * with the page: the database did not answer, or another workspace took
 * the number a moment before (it keeps it).
 */
enum answer
phones_store(struct ctx *c, const struct phones_item *pick, const char *state,
    const char *detail, int retry_seconds, const struct vault_box *pin,
    int *made_default)
{
	struct num_add a;
	enum store_rc  rc;

	memset(&a, 0, sizeof(a));
	a.id = pick->p.id;
	a.waba_id = pick->waba_id;
	a.display_phone_number = pick->p.display_phone_number;
	a.verified_name = pick->p.verified_name;
	a.quality_rating = pick->p.quality_rating;
	a.status = pick->p.status;
	a.code_verification_status = pick->p.code_verification_status;
	a.messaging_limit = pick->p.messaging_limit_tier;
	a.state = state;
	a.state_detail = detail;
	a.retry_seconds = retry_seconds;
	a.coexistence = pick->p.on_biz_app;
	a.pin = pin;
	if (store_num_put(c->app->db, &c->ws, &a, c->sess.email,
	        made_default) != STORE_OK)
		return hm_db_down(c);
	/*
	 * After the rows. Without its route the number's messages would be
	 * dropped as unknown: say so, and let the merchant add it again
	 * (register and subscribe are safe to repeat).
	 */
	if ((rc = hm_routes(c)) == STORE_DUP) {
		(void)store_num_remove(c->app->db, &c->ws, pick->p.id,
		    c->sess.email);
		return view_error(c, 409,
		    "That number is already used by "
		    "another workspace. A number sends for one workspace only: "
		    "remove it there first.");
	}
	if (rc != STORE_OK)
		return view_error(c, 503,
		    "The number was registered, but the "
		    "database did not answer while we finished, so its "
		    "messages cannot reach this workspace yet. Please add "
		    "the number again in a moment.");
	return GO_ON;
}

/*
 * Registration refused in a way that waits: stored with what to do, and
 * (pin not NULL) the PIN sealed by the vault, so that registering can be
 * tried again without asking for it (Verify, the health monitor).
 */
static enum answer
phones_wait(struct ctx *c, const struct phones_item *pick, const char *state,
    const char *detail, int retry_seconds, const char *pin, const char *flash)
{
	struct vault_box box;
	char             err[256];
	enum answer      ret;
	int              made;

	memset(&box, 0, sizeof(box));
	log_info("workspace %llu: number %s waits: %s",
	    (unsigned long long)c->ws.id, pick->p.id, state);
	if (pin != NULL &&
	    vault_encrypt(app_vault(c->app), c->ws.id, VAULT_KIND_PIN, pin,
	        strlen(pin), &box, err, sizeof(err)) == -1)
		return view_internal(c, err);
	ret = phones_store(c, pick, state, detail, retry_seconds,
	    pin != NULL ? &box : NULL, &made);
	vault_box_free(&box);
	return ret == ANSWERED ? ANSWERED : hm_back(c, flash);
}

/* A refusal on the numbers page, or (l NULL: no list at hand) alone. */
static enum answer
phones_refuse(struct ctx *c, int status, const struct conn_row *r,
    const struct phones_list *l, const char *msg, const char *reference,
    const char *pick)
{
	if (l == NULL)
		return view_error(c, status, msg);
	return phones_page(c, status, r, l, msg, reference, pick);
}

/*
 * Registration refused: Meta's reasons (Cloud API "Registration" error
 * codes) in plain words, with what to do. Those that only need time or
 * Meta's review keep the number as waiting; a wrong PIN or a number that
 * belongs elsewhere is said on the page, and nothing is kept.
 */
static enum answer
phones_register_failed(struct ctx *c, const struct conn_row *r,
    const struct phones_list *l, const struct phones_item *pick,
    const char *pin, const struct graph_err *e)
{
	log_info("workspace %llu: register refused for number %s (code %ld "
	         "subcode %ld fbtrace_id %s)",
	    (unsigned long long)c->ws.id, pick->p.id, e->code, e->subcode,
	    graph_err_trace(e));
	switch (e->code) {
	case 133005:
		return phones_refuse(c, 400, r, l,
		    "Meta says this two-step "
		    "verification PIN is not right for the number. Check it "
		    "in WhatsApp Manager and try again. If the number has no "
		    "PIN yet, or nobody knows it, tick \"set this as the "
		    "number's new PIN\".",
		    e->fbtrace_id, pick->p.id);
	case 133009:
		return phones_refuse(c, 429, r, l,
		    "Meta saw too many PIN "
		    "attempts for this number in a short time. Wait a few "
		    "minutes before trying again.",
		    e->fbtrace_id, pick->p.id);
	case 133006:
		return phones_wait(c, pick, NUM_UNVERIFIED,
		    "Meta needs to "
		    "confirm this number with a code first: send one by SMS or "
		    "voice call, then enter it.",
		    0, NULL, "needs_code");
	case 133015:
		return phones_wait(c, pick, NUM_REGISTER_FAILED,
		    "Meta asked "
		    "us to wait a few minutes before registering this number. "
		    "Verify the connection after that to try again.",
		    300, NULL, "register_wait");
	case 133016:
		/* 10 register calls per number in a moving 72-hour window. */
		return phones_wait(c, pick, NUM_REGISTER_FAILED,
		    "Meta allows "
		    "10 registration attempts per number in 72 hours, and "
		    "this number has used them. Try again after the time "
		    "shown.",
		    72 * 3600, NULL, "register_limit");
	case 100:
		if (e->subcode != 2388001)
			break;
		/*
		 * "Cannot Create Certificate": Meta makes the number's
		 * certificate from its approved display name, so this is
		 * either a name still in review or a number still
		 * registered to another WhatsApp account.
		 */
		if (*pick->p.name_status != '\0' &&
		    strcmp(pick->p.name_status, "APPROVED") != 0)
			return phones_wait(c, pick, NUM_PENDING_NAME,
			    "Meta "
			    "has not approved the number's display name yet. "
			    "Registration is tried again when you verify the "
			    "connection.",
			    0, pin, "pending_display_name");
		return phones_refuse(c, 409, r, l,
		    "This number is still "
		    "registered to another WhatsApp account (the WhatsApp "
		    "or WhatsApp Business app, or another provider). "
		    "Disconnect it there first, then add it again.",
		    e->fbtrace_id, pick->p.id);
	default:
		break;
	}
	return hm_graph_failed(c, "registering the number", e, 1);
}

/*
 * Registers pick (unless it is also on the WhatsApp Business app: a
 * coexistence number stays on the app and is not registered), after
 * setting pin as its two-step verification PIN when asked, and
 * subscribes to its WABA. GO_ON, or ANSWERED with the page.
 */
enum answer
phones_register(struct ctx *c, const struct conn_row *r,
    const struct phones_list *l, const struct phones_item *pick,
    const char *pin, int set_pin)
{
	struct vault_secret tok;
	struct graph_err    e;
	enum answer         ret = GO_ON;

	if (hm_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	if (!pick->p.on_biz_app) {
		if (set_pin &&
		    graph_set_pin(c->app->graph, tok.data, pick->p.id, pin,
		        &e) == -1) {
			ret = hm_graph_failed(c, "setting the number's PIN", &e,
			    1);
			goto out;
		}
		if (graph_register(c->app->graph, tok.data, pick->p.id, pin,
		        &e) == -1) {
			ret = phones_register_failed(c, r, l, pick, pin, &e);
			goto out;
		}
	}
	if (graph_subscribe(c->app->graph, tok.data, pick->waba_id, &e) == -1)
		ret = hm_graph_failed(c,
		    "subscribing to your account's "
		    "webhooks",
		    &e, 1);
out:
	vault_secret_free(&tok);
	return ret;
}

/* Registered: stored as active, and the merchant told so. */
enum answer
phones_active(struct ctx *c, const struct phones_item *pick, int first)
{
	int restricted, made_default;

	if (phones_store(c, pick, NUM_ACTIVE, NULL, 0, NULL, &made_default) ==
	    ANSWERED)
		return ANSWERED;
	log_info("workspace %llu: number %s active%s",
	    (unsigned long long)c->ws.id, pick->p.id,
	    made_default ? " (default)" : "");
	/* A restriction Meta reported still holds: say so, not "connected". */
	if (store_conn_restricted(c->app->db, &c->ws, &restricted) != STORE_OK)
		restricted = 0;
	if (restricted)
		return hm_back(c, "restricted");
	/* A WhatsApp Business app number: say what it can do next. */
	if (pick->p.on_biz_app)
		return hm_back(c, first ? "connected_app" : "phone_added_app");
	return hm_back(c, first ? "connected" : "phone_added");
}

enum answer
h_phones_post(struct ctx *c)
{
	const char               *phone = c->in[PHONES_PHONE].s;
	const char               *pin = c->in[PHONES_PIN].s;
	const char               *waba = c->in[PHONES_WABA].s;
	int                       set_pin = c->in[PHONES_SET_PIN].set;
	struct conn_row           r;
	struct phones_list        l;
	const struct phones_item *pick = NULL;
	size_t                    i;
	enum answer               ret;
	int                       used, other;

	if (waba != NULL && phone == NULL)
		return phones_choose_waba(c, waba);
	if (phones_load(c, &r, &l) == ANSWERED) {
		ret = ANSWERED;
		goto out;
	}
	if (*r.waba_id == '\0') {
		ret = phones_page(c, 400, &r, &l,
		    "Choose a WhatsApp "
		    "Business Account first.",
		    NULL, NULL);
		goto out;
	}
	for (i = 0; phone != NULL && i < l.n; i++)
		if (strcmp(l.v[i].p.id, phone) == 0)
			pick = &l.v[i];
	if (pick == NULL) {
		if (phone != NULL &&
		    (ret = phones_used(c, &l, phone, &used, &other)) ==
		        ANSWERED)
			goto out;
		ret = phones_page(c, phone != NULL && other ? 409 : 400, &r, &l,
		    phone != NULL && other
		        ? "That number is already used "
		          "by another workspace. A number sends for one workspace "
		          "only: remove it there first."
		        : "Choose one of the phone "
		          "numbers listed below.",
		    NULL, NULL);
		goto out;
	}
	/*
	 * A number Meta has not confirmed yet waits for its code: the PIN
	 * comes with the code, when it can be used.
	 */
	if (!pick->p.on_biz_app &&
	    strcmp(pick->p.code_verification_status, "VERIFIED") != 0 &&
	    *pick->p.code_verification_status != '\0') {
		ret = phones_wait(c, pick, NUM_UNVERIFIED,
		    "Meta needs to "
		    "confirm this number with a code first: send one by SMS or "
		    "voice call, then enter it.",
		    0, NULL, "needs_code");
		goto out;
	}
	/* Declared six digits (app.c); only its presence is left. */
	if (pin == NULL && !pick->p.on_biz_app) {
		ret = phones_page(c, 400, &r, &l,
		    "Enter the number's "
		    "six-digit two-step verification PIN.",
		    NULL, pick->p.id);
		goto out;
	}
	if ((ret = phones_register(c, &r, &l, pick, pin, set_pin)) == ANSWERED)
		goto out;
	ret = phones_active(c, pick, l.nmine == 0);
out:
	phones_list_free(&l);
	return ret;
}
