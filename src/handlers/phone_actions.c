/*
 * What happens to a number once added (phones.c adds them): its
 * verification code, when Meta has not confirmed it yet; being made the
 * default sender; removal, and deregistration when confirmed; the
 * one-time contacts and chat history sync of a number also on the
 * WhatsApp Business app; and Verify's part, which reads every number
 * again and registers one that waited for its display name.
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
#include "../vault.h"
#include "../view.h"
#include "handlers.h"
#include "meta.h"
#include "phones.h"

/* The number named in the path, which must be one of the workspace's. */
enum answer
phones_mine(struct ctx *c, const char *id, struct num_row *n)
{
	enum store_rc rc;

	rc = store_num_get(c->app->db, &c->ws, id, n);
	if (rc == STORE_NOTFOUND)
		return view_error(c, 404,
		    "This workspace does not use that "
		    "number.");
	if (rc != STORE_OK)
		return hm_db_down(c);
	return GO_ON;
}

/*
 * The number of a code route: one of the workspace's, still waiting for
 * its code; and the token to ask Meta with (wipe it). GO_ON or ANSWERED.
 */
static enum answer
phones_unverified(struct ctx *c, const char *id, struct num_row *n,
    struct vault_secret *tok)
{
	if (phones_mine(c, id, n) == ANSWERED)
		return ANSWERED;
	if (strcmp(n->state, NUM_UNVERIFIED) != 0)
		return view_error(c, 400,
		    "This number does not need a "
		    "verification code.");
	return hm_token(c, VAULT_KIND_WABA, tok);
}

enum answer
h_phone_request_code(struct ctx *c)
{
	static const char *const methods[] = { "SMS", "VOICE" };
	const char              *id = c->in[CODE_ID].s;
	const char              *method = methods[c->in[CODE_METHOD].choice];
	const char *lang = c->in[CODE_LANGUAGE].set ? c->in[CODE_LANGUAGE].s
	                                            : "en_US";
	struct vault_secret tok;
	struct phones_item  it;
	struct num_row      n;
	struct graph_err    e;
	char                detail[200];
	int                 made;

	if (phones_unverified(c, id, &n, &tok) == ANSWERED)
		return ANSWERED;
	if (graph_request_code(c->app->graph, tok.data, id, method, lang, &e) ==
	    -1) {
		vault_secret_free(&tok);
		return hm_graph_failed(c, "sending the verification code", &e,
		    1);
	}
	vault_secret_free(&tok);
	phones_item_from_row(&n, &it);
	snprintf(detail, sizeof(detail),
	    "Meta sent a code by %s. Enter it "
	    "with the number's PIN.",
	    strcmp(method, "SMS") == 0 ? "SMS" : "voice call");
	if (phones_store(c, &it, NUM_UNVERIFIED, detail, 0, NULL, &made) ==
	    ANSWERED)
		return ANSWERED;
	log_info("workspace %llu: verification code requested for number %s "
	         "(%s)",
	    (unsigned long long)c->ws.id, id, method);
	return hm_back(c, "code_sent");
}

enum answer
h_phone_verify_code(struct ctx *c)
{
	const char         *id = c->in[VERIFY_ID].s;
	struct vault_secret tok;
	struct phones_item  it;
	struct conn_row     r;
	struct num_row      n;
	struct graph_err    e;
	enum answer         ret;
	int                 rc, made;

	if (phones_unverified(c, id, &n, &tok) == ANSWERED)
		return ANSWERED;
	rc = graph_verify_code(c->app->graph, tok.data, id,
	    c->in[VERIFY_CODE].s, &e);
	vault_secret_free(&tok);
	if (rc == -1) {
		if (e.http_status == 400 && !e.maybe_done)
			return view_error(c, 400,
			    "Meta did not accept this "
			    "code: it does not match the last code sent, or "
			    "it expired. Send a new code and try again.");
		return hm_graph_failed(c, "checking the verification code", &e,
		    1);
	}
	phones_item_from_row(&n, &it);
	snprintf(it.p.code_verification_status,
	    sizeof(it.p.code_verification_status), "VERIFIED");
	/* Verified now, whatever registration says next. */
	if (phones_store(c, &it, NUM_REGISTER_FAILED,
	        "Verified. It is not "
	        "registered yet: add it again with its PIN.",
	        0, NULL, &made) == ANSWERED)
		return ANSWERED;
	if (store_conn_get(c->app->db, &c->ws, &r) != STORE_OK)
		return hm_db_down(c);
	ret = phones_register(c, &r, NULL, &it, c->in[VERIFY_PIN].s,
	    c->in[VERIFY_SET_PIN].set);
	if (ret == GO_ON)
		ret = phones_active(c, &it, 0);
	return ret;
}

enum answer
h_phone_default(struct ctx *c)
{
	const char   *id = c->in[PHONE_ID].s;
	enum store_rc rc;

	rc = store_num_default(c->app->db, &c->ws, id, c->sess.email);
	if (rc == STORE_NOTFOUND)
		return view_error(c, 400,
		    "Only a registered number this "
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
	const char         *id = c->in[REMOVE_ID].s;
	int                 dereg = c->in[REMOVE_DEREGISTER].set;
	struct vault_secret tok;
	struct num_row      n;
	struct graph_err    e;
	enum store_rc       rc;

	if (phones_mine(c, id, &n) == ANSWERED)
		return ANSWERED;
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
		return view_error(c, 503,
		    "The number was removed, but the "
		    "database did not answer while we finished. Please remove "
		    "it again in a moment.");
	log_info("workspace %llu: number %s removed",
	    (unsigned long long)c->ws.id, id);
	return hm_back(c, dereg ? "phone_deregistered" : "phone_removed");
}

/* What the merchant calls each coexistence sync. */
static const char *
phones_sync_words(const char *sync_type)
{
	return strcmp(sync_type, NUM_SYNC_STATE) == 0 ? "contacts sync"
	                                              : "chat history sync";
}

/* A sync that already ran: said from our record, Meta not asked. */
static enum answer
phones_sync_ran(struct ctx *c, const char *sync_type, const char *at)
{
	char msg[400];

	snprintf(msg, sizeof(msg),
	    "The %s from the WhatsApp Business app "
	    "already ran for this number%s%s%s. Meta lets each sync run only "
	    "once per number, so it was not requested again.",
	    phones_sync_words(sync_type), *at ? " on " : "", at,
	    *at ? " UTC" : "");
	return view_error(c, 409, msg);
}

/*
 * Meta's refusal of a second sync. Meta documents no code for it (100
 * "Invalid parameter" is what is seen), so its words decide: the sync
 * ran before, through us or another app of the merchant's.
 */
static int
phones_sync_was_run(const struct graph_err *e)
{
	static const char *const said[] = { "already been requested",
		"only be performed once", "already requested" };
	size_t                   i;

	if (e->code != 100)
		return 0;
	for (i = 0; i < sizeof(said) / sizeof(said[0]); i++)
		if (strstr(e->details, said[i]) != NULL ||
		    strstr(e->message, said[i]) != NULL ||
		    strstr(e->user_msg, said[i]) != NULL)
			return 1;
	return 0;
}

/*
 * The one-time syncs of a coexistence number (Meta, "Onboarding
 * WhatsApp Business app users": contacts first, then the chat history,
 * each once; the data comes as smb_app_state_sync and history webhooks).
 * Recorded after Meta accepted it, not before: a call that failed did
 * not run, and recording first would forbid the retry. Meta refusing
 * it as already requested is a record too, so the next request is
 * answered here without a call.
 */
enum answer
h_phone_sync(struct ctx *c)
{
	static const char *const types[] = { NUM_SYNC_STATE, NUM_SYNC_HISTORY };
	const char              *id = c->in[SYNC_ID].s;
	const char              *sync = types[c->in[SYNC_TYPE].choice];
	const char              *at;
	char                     rid[GRAPH_REQUEST_ID_MAX];
	struct vault_secret      tok;
	struct num_row           n;
	struct graph_err         e;
	enum store_rc            rc;
	int                      ret;

	if (phones_mine(c, id, &n) == ANSWERED)
		return ANSWERED;
	if (!n.coexistence)
		return view_error(c, 400,
		    "Only a number that is also on the "
		    "WhatsApp Business app has contacts and chats there to "
		    "sync.");
	at = strcmp(sync, NUM_SYNC_STATE) == 0 ? n.synced_state_at
	                                       : n.synced_history_at;
	if (*at)
		return phones_sync_ran(c, sync, at);
	if (strcmp(sync, NUM_SYNC_HISTORY) == 0 && *n.synced_state_at == '\0')
		return view_error(c, 409,
		    "Sync the contacts from the WhatsApp "
		    "Business app first: the chat history comes after them.");
	if (hm_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	ret = graph_smb_app_data(c->app->graph, tok.data, id, sync, rid, &e);
	vault_secret_free(&tok);
	if (ret == -1 && !phones_sync_was_run(&e))
		return hm_graph_failed(c,
		    strcmp(sync, NUM_SYNC_STATE) == 0
		        ? "starting the contacts sync"
		        : "starting the chat history sync",
		    &e, 1);
	rc = store_num_synced(c->app->db, &c->ws, id, sync, c->sess.email);
	if (rc != STORE_OK && rc != STORE_DUP) {
		log_err("workspace %llu: number %s: %s ran at Meta but was "
		        "not recorded",
		    (unsigned long long)c->ws.id, id, sync);
		return view_error(c, 503,
		    "Meta started the sync, but the "
		    "database did not answer while we recorded it. It ran: "
		    "do not start it again.");
	}
	if (ret == -1) {
		log_info("workspace %llu: number %s: %s refused by Meta as "
		         "already run (fbtrace_id %s): recorded",
		    (unsigned long long)c->ws.id, id, sync,
		    graph_err_trace(&e));
		if (phones_mine(c, id, &n) == ANSWERED)
			return ANSWERED;
		return phones_sync_ran(c, sync,
		    strcmp(sync, NUM_SYNC_STATE) == 0 ? n.synced_state_at
		                                      : n.synced_history_at);
	}
	log_info("workspace %llu: number %s: %s started (request_id %s)",
	    (unsigned long long)c->ws.id, id, sync, rid);
	return hm_back(c,
	    strcmp(sync, NUM_SYNC_STATE) == 0 ? "sync_state" : "sync_history");
}

/*
 * Verify's part for the numbers: each number's details as Meta has them
 * now, and a number that waited for its display name registered once
 * Meta approved it, with the PIN kept for that (then wiped). *done counts
 * the numbers registered. GO_ON, or ANSWERED with the page of a failed
 * call.
 */
enum answer
phones_refresh(struct ctx *c, const char *token, int *done)
{
	struct num_row     *l = NULL;
	struct phones_item  it;
	struct graph_phone  ph;
	struct graph_err    e;
	struct vault_box    box;
	struct vault_secret pin;
	struct num_add      a;
	char                err[256];
	size_t              n = 0, i;
	enum answer         ret = GO_ON;
	int                 made;

	*done = 0;
	if (store_num_list(c->app->db, &c->ws, &l, &n) != STORE_OK)
		return hm_db_down(c);
	for (i = 0; i < n && ret == GO_ON; i++) {
		if (graph_phone(c->app->graph, token, l[i].id, &ph, &e) == -1) {
			ret = hm_graph_failed(c, "reading your phone numbers",
			    &e, 1);
			break;
		}
		phones_item_from_row(&l[i], &it);
		it.p = ph;
		memset(&a, 0, sizeof(a));
		a.id = ph.id;
		a.display_phone_number = ph.display_phone_number;
		a.verified_name = ph.verified_name;
		a.quality_rating = ph.quality_rating;
		a.status = ph.status;
		a.code_verification_status = ph.code_verification_status;
		a.messaging_limit = ph.messaging_limit_tier;
		a.coexistence = ph.on_biz_app;
		if (store_num_refresh(c->app->db, &c->ws, &a) != STORE_OK) {
			ret = hm_db_down(c);
			break;
		}
		if (strcmp(l[i].state, NUM_PENDING_NAME) != 0 ||
		    strcmp(ph.name_status, "APPROVED") != 0)
			continue;
		if (store_num_pin(c->app->db, &c->ws, l[i].id, &box) !=
		    STORE_OK) {
			log_info(
			    "workspace %llu: number %s: display name "
			    "approved, no PIN kept: waits to be added again",
			    (unsigned long long)c->ws.id, l[i].id);
			continue;
		}
		if (vault_decrypt(app_vault(c->app), c->ws.id, VAULT_KIND_PIN,
		        &box, &pin, err, sizeof(err)) == -1) {
			vault_box_free(&box);
			log_err("%s", err);
			continue;
		}
		vault_box_free(&box);
		if (graph_register(c->app->graph, token, ph.id, pin.data, &e) ==
		        -1 ||
		    graph_subscribe(c->app->graph, token, it.waba_id, &e) ==
		        -1) {
			vault_secret_free(&pin);
			/* Said on the number's row; Verify itself goes on. */
			log_info("workspace %llu: number %s: register tried "
			         "again, refused (code %ld subcode %ld)",
			    (unsigned long long)c->ws.id, ph.id, e.code,
			    e.subcode);
			continue;
		}
		vault_secret_free(&pin);
		/* Active: the stored PIN is wiped with the waiting. */
		if (phones_store(c, &it, NUM_ACTIVE, NULL, 0, NULL, &made) ==
		    ANSWERED) {
			ret = ANSWERED;
			break;
		}
		log_info("workspace %llu: number %s registered after its "
		         "display name was approved",
		    (unsigned long long)c->ws.id, ph.id);
		(*done)++;
	}
	free(l);
	return ret;
}
