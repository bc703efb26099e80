/*
 * app: one request from the first byte to the access line, and the route
 * table it runs on. Every route goes through the same steps here, in one
 * order (parse, route, body, gate, declared fields, handler), so what a
 * handler may assume is decided in one place (doc/architecture.md, The
 * request path).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <sodium.h>

#include "apigate.h"
#include "apikey.h"
#include "catbatch.h"
#include "clock.h"
#include "message.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "jsonx.h"
#include "graph.h"
#include "handlers/handlers.h"
#include "input.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "metrics.h"
#include "router.h"
#include "session.h"
#include "store/apikeys.h"
#include "store/idempotency.h"
#include "store/sends.h"
#include "store/outbox.h"
#include "store/users.h"
#include "store/workspaces.h"
#include "vault.h"
#include "template.h"
#include "view.h"

/*
 * Declared inputs, spelled the same way everywhere in the table. need is
 * enum in_need: 0 optional, 1 required, or IN_IGNORE_BAD.
 */
/* An API body's JSON nesting: Meta's deepest objects (an interactive
   list's sections and rows, a template's buttons) need fewer than 10. */
#define APP_JSON_DEPTH 32

#define DIGITS(nm, w, lo, hi, need, y) \
	{ \
		(nm), (w), IN_DIGITS, (lo), (hi), NULL, (need), (y) \
	}
#define PRINT(nm, w, lo, hi, need, y) \
	{ \
		(nm), (w), IN_PRINTABLE, (lo), (hi), NULL, (need), (y) \
	}
#define TEXT(nm, w, lo, hi, need, y) \
	{ \
		(nm), (w), IN_TEXT, (lo), (hi), NULL, (need), (y) \
	}
/* The {phone_number_id} of the number routes: Meta's ids are digits. */
#define PHONE_IN_PATH \
	DIGITS("phone_number_id", IN_PATH, 1, 32, 1, \
	    "That is not a phone number ID.")

static const char *const hub_modes[] = { "subscribe", NULL };
static const char *const one[] = { "1", NULL }; /* a ticked box */
static const char *const code_methods[] = { "SMS", "VOICE", NULL };
/* In h_phone_sync's order: contacts, then chats. */
static const char *const sync_types[] = { "smb_app_state_sync", "history",
	NULL };

/* Meta's template statuses ("Message Templates", status filter). */
static const char *const tpl_statuses[] = { "APPROVED", "IN_APPEAL", "PENDING",
	"REJECTED", "PENDING_DELETION", "DELETED", "DISABLED", "PAUSED",
	"LIMIT_EXCEEDED", "ARCHIVED", NULL };
static const char *const tpl_categories[] = { "MARKETING", "UTILITY",
	"AUTHENTICATION", NULL };

/*
 * The whole of doc/contract.md, Routes, that the app serves, in one table,
 * with what each route accepts. Field order is the handler's enum (handlers.h).
 */
/* clang-format off: one route per block, laid out by hand. */
static const struct route routes[] = {
	{ REQ_GET, "/healthz", h_healthz, 0, ROUTE_PAGE, NULL, { { 0 } } },
	/* [metrics] allow only; 404 for anyone else (handlers/metrics.c). */
	{ REQ_GET, "/metrics", h_metrics, 0, ROUTE_PAGE, NULL, { { 0 } } },
	{ REQ_GET, "/login", h_login_get, 0, ROUTE_PAGE, NULL, { { 0 } } },
	{ REQ_POST, "/login", h_login_post, 0, ROUTE_PAGE, NULL,
	    { [LOGIN_EMAIL] = TEXT("email", IN_FORM, 0, 1024, 0, NULL),
	        [LOGIN_PASSWORD] = TEXT("password", IN_FORM, 0, 4096, 0, NULL),
	        [LOGIN_TOKEN] = TEXT("csrf_token", IN_FORM, 0, 128, 0,
	            NULL) } },
	{ REQ_POST, "/logout", h_logout, ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { { 0 } } },
	{ REQ_GET, "/w/{slug}/settings/whatsapp", h_settings, ROUTE_SESSION,
	    ROUTE_PAGE, NULL,
	    { [SETTINGS_FLASH] = PRINT("m", IN_QUERY, 0, 64, IN_IGNORE_BAD,
	          NULL) } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/connect", h_connect,
	    ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { /* embedded_signup.js: the state as JSON, no redirect. */
	        [CONNECT_POPUP] = { "popup", IN_FORM, IN_ENUM, 0, 0, one, 0,
	            NULL } } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/embedded-signup",
	    h_embedded_signup, ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [ES_CODE] = PRINT("code", IN_FORM, 1, 2048, 1,
	          "Meta's answer "
	          "did not include a valid authorization code, so nothing was "
	          "changed. Try connecting again."),
	        [ES_STATE] = { "state", IN_FORM, IN_HEX, 32, 32, NULL, 1,
	            "This connection attempt is incomplete, so nothing was "
	            "changed. Start again from your WhatsApp settings page." },
	        [ES_WABA] = DIGITS("waba_id", IN_FORM, 1, 32, 0,
	            "Meta's popup "
	            "sent a business account id that is not valid, so nothing was "
	            "changed. Try connecting again."),
	        [ES_PHONE] = DIGITS("phone_number_id", IN_FORM, 1, 32, 0,
	            "Meta's "
	            "popup sent a phone number id that is not valid, so nothing "
	            "was changed. Try connecting again."),
	        [ES_BUSINESS] = DIGITS("business_id", IN_FORM, 1, 32, 0,
	            "Meta's "
	            "popup sent a business id that is not valid, so nothing was "
	            "changed. Try connecting again.") } },
	{ REQ_GET, "/oauth/meta/callback", h_oauth_callback, ROUTE_SESSION,
	    ROUTE_PAGE, NULL,
	    { [CB_STATE] = { "state", IN_QUERY, IN_HEX, 32, 32, NULL, 1,
	          "This link from Meta is incomplete. Start again from your "
	          "WhatsApp settings page." },
	        [CB_CODE] = PRINT("code", IN_QUERY, 1, 2048, 0,
	            "Meta's answer "
	            "did not include a valid authorization code, so nothing was "
	            "changed. Try connecting again."),
	        [CB_ERROR] = TEXT("error", IN_QUERY, 1, 300, 0, NULL),
	        [CB_ERROR_DESC] = TEXT("error_description", IN_QUERY, 0, 4096,
	            0, NULL) } },
	{ REQ_GET, "/w/{slug}/settings/whatsapp/phone-numbers", h_phones_get,
	    ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { /* Preselected: the number the popup reported (oauth.c). */
	        [PHONES_PICK] = DIGITS("phone_number_id", IN_QUERY, 1, 32, 0,
	            NULL) } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/phone-numbers", h_phones_post,
	    ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [PHONES_PHONE] = DIGITS("phone_number_id", IN_FORM, 1, 32, 0,
	          "Choose one of the phone numbers listed below."),
	        /* Two-step verification PINs are exactly six digits. */
	        [PHONES_PIN] = DIGITS("pin", IN_FORM, 6, 6, 0,
	            "Enter the "
	            "number's six-digit two-step verification PIN."),
	        [PHONES_WABA] = DIGITS("waba_id", IN_FORM, 1, 32, 0,
	            "Choose one "
	            "of the listed WhatsApp Business Accounts."),
	        [PHONES_SET_PIN] = { "set_pin", IN_FORM, IN_ENUM, 0, 0, one, 0,
	            NULL } } },
	{ REQ_POST,
	    "/w/{slug}/settings/whatsapp/phone-numbers/"
	    "{phone_number_id}/request-code",
	    h_phone_request_code, ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [CODE_ID] = PHONE_IN_PATH,
	        [CODE_METHOD] = { "code_method", IN_FORM, IN_ENUM, 0, 0,
	            code_methods, 1, "Choose SMS or voice call." },
	        /* A locale as Meta takes it: en_US, pt_BR, de. */
	        [CODE_LANGUAGE] = PRINT("language", IN_FORM, 2, 10, 0,
	            "Choose the language of the message.") } },
	{ REQ_POST,
	    "/w/{slug}/settings/whatsapp/phone-numbers/"
	    "{phone_number_id}/verify-code",
	    h_phone_verify_code, ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [VERIFY_ID] = PHONE_IN_PATH,
	        [VERIFY_CODE] = DIGITS("code", IN_FORM, 6, 6, 1,
	            "Enter the "
	            "six-digit code Meta sent."),
	        [VERIFY_PIN] = DIGITS("pin", IN_FORM, 6, 6, 1,
	            "Enter the "
	            "number's six-digit two-step verification PIN."),
	        [VERIFY_SET_PIN] = { "set_pin", IN_FORM, IN_ENUM, 0, 0, one, 0,
	            NULL } } },
	{ REQ_POST,
	    "/w/{slug}/settings/whatsapp/phone-numbers/"
	    "{phone_number_id}/default",
	    h_phone_default, ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [PHONE_ID] = PHONE_IN_PATH } },
	{ REQ_POST,
	    "/w/{slug}/settings/whatsapp/phone-numbers/"
	    "{phone_number_id}/sync",
	    h_phone_sync, ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [SYNC_ID] = PHONE_IN_PATH,
	        [SYNC_TYPE] = { "sync_type", IN_FORM, IN_ENUM, 0, 0, sync_types,
	            1,
	            "Choose what to sync: the contacts or the chat "
	            "history." } } },
	{ REQ_POST,
	    "/w/{slug}/settings/whatsapp/phone-numbers/"
	    "{phone_number_id}/remove",
	    h_phone_remove, ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [REMOVE_ID] = PHONE_IN_PATH,
	        [REMOVE_DEREGISTER] = { "deregister", IN_FORM, IN_ENUM, 0, 0,
	            one, 0, "To deregister the number too, tick the box." },
	        [REMOVE_CONFIRM] = { "confirm", IN_FORM, IN_ENUM, 0, 0, one, 0,
	            NULL } } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/catalog", h_catalog,
	    ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [CATALOG_ID] = DIGITS("catalog_id", IN_FORM, 1, 32, 1,
	          "The "
	          "catalog ID is the number shown in Commerce Manager (digits "
	          "only)."),
	        [CATALOG_TOKEN] = PRINT("catalog_token", IN_FORM, 1, 4096, 1,
	            "Paste the catalog's access token (no spaces).") } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/catalog/disconnect",
	    h_catalog_disconnect, ROUTE_SESSION, ROUTE_PAGE, NULL, { { 0 } } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/verify", h_verify,
	    ROUTE_SESSION, ROUTE_PAGE, NULL, { { 0 } } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/check", h_check_now,
	    ROUTE_SESSION, ROUTE_PAGE, NULL, { { 0 } } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/test-message", h_test_message,
	    ROUTE_SESSION, ROUTE_PAGE, NULL,
	    { [TEST_TO] = { "to", IN_FORM, IN_E164, 0, 0, NULL, 1,
	          "Enter the "
	          "recipient's number in international format, digits only "
	          "(for example 4915112345678)." } } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/disconnect", h_disconnect,
	    ROUTE_SESSION, ROUTE_PAGE, NULL, { { 0 } } },
	{ REQ_GET, "/webhooks/meta", h_webhook_verify, 0, ROUTE_HOOK,
	    "verification refused\n",
	    { [HUB_MODE] = { "hub.mode", IN_QUERY, IN_ENUM, 0, 0, hub_modes, 1,
	          NULL },
	        [HUB_TOKEN] = TEXT("hub.verify_token", IN_QUERY, 1, 1024, 1,
	            NULL),
	        [HUB_CHALLENGE] = PRINT("hub.challenge", IN_QUERY, 1, 256, 1,
	            NULL) } },
	{ REQ_POST, "/webhooks/meta", h_webhook_event, ROUTE_RAW_BODY,
	    ROUTE_HOOK, "bad signature\n",
	    { [HOOK_SIGNATURE] = PRINT("HTTP_X_HUB_SIGNATURE_256", IN_HEADER, 1,
	          256, 1, NULL) } },
	/* The internal API: a key's scope in flags (router.h). */
	{ REQ_GET, "/api/v1/w/{slug}/connection", h_api_connection,
	    ROUTE_SCOPE(APIKEY_SCOPE_CONNECTION_READ), ROUTE_API, NULL,
	    { { 0 } } },
	{ REQ_GET, "/api/v1/w/{slug}/events", h_api_events,
	    ROUTE_SCOPE(APIKEY_SCOPE_EVENTS_READ), ROUTE_API, NULL,
	    { [EV_AFTER] = { "after", IN_QUERY, IN_NUMBER, 0,
	          9223372036854775807ULL, NULL, 0,
	          "after must be an event id (a whole number, 0 or more)" },
	        [EV_LIMIT] = { "limit", IN_QUERY, IN_NUMBER, 1, 1000, NULL, 0,
	            "limit must be a whole number from 1 to 1000" },
	        [EV_WAIT] = { "wait", IN_QUERY, IN_NUMBER, 0, 30, NULL, 0,
	            "wait must be a whole number of seconds from 0 to 30" } } },
	/* requests (an array) is checked by catbatch_check in the handler. */
	{ REQ_POST, "/api/v1/w/{slug}/catalog/items", h_api_catalog_items,
	    ROUTE_SCOPE(APIKEY_SCOPE_CATALOG_WRITE), ROUTE_API, NULL,
	    { [CITEMS_TYPE] = { "item_type", IN_JSON, IN_ENUM, 0, 0,
	          catbatch_item_types, 1, NULL } } },
	/* Reading a push's outcome is part of pushing: catalog:write. */
	{ REQ_GET, "/api/v1/w/{slug}/catalog/batches/{handle}",
	    h_api_catalog_batch, ROUTE_SCOPE(APIKEY_SCOPE_CATALOG_WRITE),
	    ROUTE_API, NULL,
	    { [CBATCH_HANDLE] = { "handle", IN_PATH, IN_B64URL, 1,
	          CATBATCH_HANDLE_MAX, NULL, 1, NULL } } },
	{ REQ_POST, "/api/v1/w/{slug}/media", h_api_media,
	    ROUTE_UPLOAD | ROUTE_SCOPE(APIKEY_SCOPE_MEDIA_WRITE), ROUTE_API,
	    NULL,
	    { [MEDIA_FROM] = DIGITS("from", IN_QUERY, 1, 32, 0, NULL),
	        /* Checked against Meta's types by the handler. */
	        [MEDIA_CTYPE] = TEXT("CONTENT_TYPE", IN_HEADER, 1, 255, 0,
	            NULL) } },
	{ REQ_POST, "/api/v1/w/{slug}/uploads", h_api_uploads,
	    ROUTE_UPLOAD | ROUTE_SCOPE(APIKEY_SCOPE_MEDIA_WRITE), ROUTE_API,
	    NULL,
	    { [UPLOAD_CTYPE] = TEXT("CONTENT_TYPE", IN_HEADER, 1, 255, 0, NULL),
	        [UPLOAD_NAME] = TEXT("HTTP_X_FILE_NAME", IN_HEADER, 1, 255, 0,
	            NULL) } },
	{ REQ_GET, "/api/v1/w/{slug}/templates", h_api_templates_get,
	    ROUTE_CONN | ROUTE_SCOPE(APIKEY_SCOPE_TEMPLATES_READ), ROUTE_API,
	    NULL,
	    { [TPLS_STATUS] = { "status", IN_QUERY, IN_ENUM, 0, 0, tpl_statuses,
	          0, NULL },
	        /* Meta matches part of a name: the name's own alphabet. */
	        [TPLS_NAME] = { "name", IN_QUERY, IN_NAME, 1, 512, NULL, 0,
	            NULL },
	        /* Meta's cursor, opaque: printable and bounded. */
	        [TPLS_AFTER] = PRINT("after", IN_QUERY, 1, GRAPH_CURSOR_MAX - 1,
	            0, NULL),
	        [TPLS_LIMIT] = DIGITS("limit", IN_QUERY, 1, 3, 0, NULL) } },
	/* A JSON body (an API body is never a form): app_fields, then
	   msgtpl_json. */
	{ REQ_POST, "/api/v1/w/{slug}/templates", h_api_templates_post,
	    ROUTE_CONN | ROUTE_SCOPE(APIKEY_SCOPE_TEMPLATES_WRITE), ROUTE_API,
	    NULL,
	    { [TPLC_NAME] = { "name", IN_JSON, IN_NAME, 1, 512, NULL, 1, NULL },
	        [TPLC_LANGUAGE] = PRINT("language", IN_JSON, 2, 6, 1, NULL),
	        [TPLC_CATEGORY] = { "category", IN_JSON, IN_ENUM, 0, 0,
	            tpl_categories, 1, NULL } } },
	{ REQ_DELETE, "/api/v1/w/{slug}/templates/{name}",
	    h_api_template_delete,
	    ROUTE_CONN | ROUTE_SCOPE(APIKEY_SCOPE_TEMPLATES_WRITE), ROUTE_API,
	    NULL,
	    { [TPLD_NAME] = { "name", IN_PATH, IN_NAME, 1, 512, NULL, 1, NULL },
	        [TPLD_HSM_ID] = DIGITS("hsm_id", IN_QUERY, 1, 32, 0, NULL) } },
	/* The rest of the body is message.c's (msg_check). */
	{ REQ_POST, "/api/v1/w/{slug}/messages", h_api_messages,
	    ROUTE_CONN | ROUTE_SCOPE(APIKEY_SCOPE_MESSAGES_SEND), ROUTE_API,
	    NULL,
	    { [MSG_TO] = PRINT("to", IN_JSON, 1, MSG_TO_MAX, 1, NULL),
	        [MSG_TYPE] = { "type", IN_JSON, IN_ENUM, 0, 0, msg_types, 1,
	            NULL },
	        [MSG_FROM] = DIGITS("from", IN_JSON, 1, 32, 0,
	            "from must be the phone_number_id of one of the "
	            "workspace's numbers"),
	        [MSG_RECIPIENT_TYPE] = { "recipient_type", IN_JSON, IN_ENUM, 0,
	            0, msg_recipient_types, 0, NULL },
	        [MSG_CONTEXT] = { "context", IN_JSON, IN_OBJECT, 0,
	            MSG_CONTEXT_MAX, NULL, 0, NULL },
	        /* 1-64 visible ASCII (doc/contract.md, Idempotency). */
	        [MSG_IDEM_KEY] = PRINT("HTTP_IDEMPOTENCY_KEY", IN_HEADER, 1,
	            IDEM_KEY_MAX, 0,
	            "the Idempotency-Key header must be 1 to 64 visible "
	            "ASCII characters") } },
	/* Outbox (issue 13): each message is checked by outbox.c
	   (msg_check, client_id). */
	{ REQ_POST, "/api/v1/w/{slug}/outbox", h_api_outbox_post,
	    ROUTE_SCOPE(APIKEY_SCOPE_MESSAGES_SEND), ROUTE_API, NULL,
	    { [OBX_MESSAGES] = { "messages", IN_JSON, IN_ARRAY, 1,
	          OUTBOX_BATCH_MAX, NULL, 1,
	          "messages must be an array of 1 to 1000 message "
	          "objects" } } },
	{ REQ_GET, "/api/v1/w/{slug}/outbox/{id}", h_api_outbox_get,
	    ROUTE_SCOPE(APIKEY_SCOPE_MESSAGES_SEND), ROUTE_API, NULL,
	    { [OBX_ID] = { "id", IN_PATH, IN_NUMBER, 1, 9223372036854775807ULL,
	          NULL, 1, NULL } } },
	{ REQ_DELETE, "/api/v1/w/{slug}/outbox/{id}", h_api_outbox_delete,
	    ROUTE_SCOPE(APIKEY_SCOPE_MESSAGES_SEND), ROUTE_API, NULL,
	    { [OBX_ID] = { "id", IN_PATH, IN_NUMBER, 1, 9223372036854775807ULL,
	          NULL, 1, NULL } } },
};
/* clang-format on */

/* Not a member and no such workspace look alike: nothing is confirmed. */
#define APP_NOTHING_HERE \
	"There is nothing at this address. Check the " \
	"link, or go back to your workspace settings."

enum answer
app_member(struct ctx *c, const char *slug, uint64_t id)
{
	enum store_rc rc;

	rc = slug != NULL ? store_ws_by_slug(c->app->db, slug, &c->ws)
	                  : store_ws_by_id(c->app->db, id, &c->ws);
	if (rc == STORE_OK)
		rc = store_user_is_member(c->app->db, c->sess.user_id,
		    c->ws.id);
	if (rc == STORE_NOTFOUND)
		return view_error(c, 404, APP_NOTHING_HERE);
	if (rc != STORE_OK)
		return view_error(c, 503,
		    "The database is not answering. "
		    "Please try again in a moment.");
	c->has_ws = 1;
	return GO_ON;
}

/*
 * The gate in front of every signed-in route, in this order: a session
 * (else 303 to sign-in), membership of the {slug} workspace (else 404,
 * which does not confirm the workspace exists), and for POST the
 * session's CSRF token (else 403, before the handler changes anything).
 */
static enum answer
app_gate(struct ctx *c, const struct route *rt)
{
	char          loc[300];
	enum store_rc rc;
	int           want_ws, member;

	/*
	 * Session, user, workspace and membership in one statement, the
	 * request's first round trip (doc/architecture.md, The request
	 * path); app_member is for a workspace known only later.
	 */
	want_ws = strstr(rt->pattern, "{slug}") != NULL;
	rc = session_gate(c, want_ws ? c->req->slug : NULL, &member);
	if (rc == STORE_NOTFOUND) {
		snprintf(loc, sizeof(loc), "%s/login", c->app->mount);
		resp_redirect(c->resp, 303, loc);
		return ANSWERED;
	}
	if (rc != STORE_OK)
		return view_error(c, 503,
		    "The database is not answering. "
		    "Please try again in a moment.");
	if (want_ws && !member)
		return view_error(c, 404, APP_NOTHING_HERE);
	c->has_ws = want_ws;
	if (c->req->method == REQ_POST &&
	    !session_csrf_ok(c, kv_get(&c->req->form, "csrf_token")))
		return view_error(c, 403,
		    "This form has expired or did not "
		    "come from this site, so nothing was changed. Reload the "
		    "page and try again.");
	return GO_ON;
}

/*
 * The declared fields, checked before the handler runs. A refusal names
 * the field: in the route's own words (its why) on a page, as
 * invalid_request for an API client, as the route's text for Meta.
 */
static enum answer
app_fields(struct ctx *c, const struct route *rt)
{
	const struct in_field *f;
	const char            *what;
	enum in_err            err;
	char                   jerr[128];
	int                    nomem;
	char                   msg[600], url[512];
	size_t                 n = route_nfields(rt), i, bad;

	/*
	 * Strict, by its length (the bytes need not end in a NUL): one
	 * JSON value and nothing after it, valid UTF-8, so that what a
	 * lenient parser would have guessed at is never sent on to Meta.
	 * Anything else leaves c->json NULL: in_check's IN_BODY, a 400.
	 */
	for (i = 0; i < n && c->json == NULL; i++)
		if (rt->in[i].where == IN_JSON && c->req->body.len > 0) {
			c->json = jx_parse_strict(c->req->body.data,
			    c->req->body.len, APP_JSON_DEPTH, &nomem, jerr,
			    sizeof(jerr));
			if (c->json == NULL)
				log_info("%s %s: body %s", c->req->method_str,
				    c->req->path, jerr);
			break;
		}
	if ((err = in_check(rt->in, n, c->req, c->json, c->in, &bad)) == IN_OK)
		return GO_ON;
	f = &rt->in[bad];
	what = err == IN_MISSING ? "missing"
	    : err == IN_BODY     ? "(body is not a JSON object)"
	                         : "refused";
	/* A refused callback from Meta is worth a warning: misconfigured. */
	if (rt->kind == ROUTE_HOOK)
		log_warn("%s %s: field %s %s", c->req->method_str, c->req->path,
		    f->name, what);
	else
		log_info("%s %s: field %s %s", c->req->method_str, c->req->path,
		    f->name, what);
	switch (rt->kind) {
	case ROUTE_HOOK:
		resp_text(c->resp, 403, rt->refusal);
		return ANSWERED;
	case ROUTE_API:
		if (err == IN_INVALID && f->why != NULL)
			snprintf(msg, sizeof(msg), "%s", f->why);
		else
			snprintf(msg, sizeof(msg),
			    err == IN_BODY          ? "the body must be "
			                              "a JSON object"
			        : err == IN_MISSING ? "%s is required"
			                            : "%s is not valid",
			    f->name);
		return api_error(c, 400, "invalid_request", msg);
	case ROUTE_PAGE:
		break;
	}
	if (f->why != NULL)
		snprintf(msg, sizeof(msg), "%s", f->why);
	else
		snprintf(msg, sizeof(msg), "The field \"%s\" is %s.", f->name,
		    err == IN_MISSING ? "missing" : "not valid");
	if (!c->has_ws)
		return view_error(c, 400, msg);
	snprintf(url, sizeof(url), "%s/w/%s/settings/whatsapp", c->app->mount,
	    c->ws.slug);
	return view_error_with(c, 400, msg, url, NULL, 0);
}

/* The path part of base_url is where the web server mounts us. */
static int
app_mount(struct app *a, char *err, size_t errlen)
{
	CURLU *u;
	char  *path = NULL;
	size_t len;

	a->mount[0] = '\0';
	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, a->cfg->base_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		snprintf(err, errlen, "[server] base_url: cannot parse");
		curl_url_cleanup(u);
		return -1;
	}
	snprintf(a->mount, sizeof(a->mount), "%s", path);
	len = strlen(a->mount);
	while (len > 0 && a->mount[len - 1] == '/')
		a->mount[--len] = '\0';
	curl_free(path);
	curl_url_cleanup(u);
	return 0;
}

/*
 * Everything here is read from disk and can be wrong there, so it is
 * what a reload validates. The supervisor calls app_load at start-up and
 * on SIGHUP and keeps the result; a forked worker inherits that memory
 * and never reads these files again, so a worker started after a refused
 * reload runs the last good state, not the broken files.
 */
/*
 * The route table's own rules, checked before anything serves: a path
 * under /api/ is an API route (JSON refusals, the key gate) and every API
 * route declares the scope a key needs. A route missing one would refuse
 * every key (it fails closed), but that is a bug to find at start-up,
 * not in production.
 */
static int
app_routes_ok(char *err, size_t errlen)
{
	size_t i;
	int    api;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		api = strncmp(routes[i].pattern, "/api/", 5) == 0;
		if (api != (routes[i].kind == ROUTE_API) ||
		    (api && ROUTE_SCOPE_OF(routes[i].flags) == 0)) {
			snprintf(err, errlen,
			    "route %s: an /api/ path must be ROUTE_API with "
			    "a ROUTE_SCOPE, and only those",
			    routes[i].pattern);
			return -1;
		}
	}
	return 0;
}

/* /metrics names a request's route by its pattern (metrics.h). */
static void
app_metrics_routes(void)
{
	static const char *names[sizeof(routes) / sizeof(routes[0])];
	static const char *methods[sizeof(routes) / sizeof(routes[0])];
	size_t             i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		names[i] = routes[i].pattern;
		methods[i] = (routes[i].methods & REQ_GET) ? "GET"
		    : (routes[i].methods & REQ_POST)       ? "POST"
		    : (routes[i].methods & REQ_DELETE)     ? "DELETE"
		                                           : "";
	}
	metrics_routes(names, methods, sizeof(routes) / sizeof(routes[0]));
}

int
app_load(struct app *a, const char *config_path, char *err, size_t errlen)
{
	char why[512];

	memset(a, 0, sizeof(*a));
	if (app_routes_ok(err, errlen) == -1)
		return -1;
	app_metrics_routes();
	if ((a->cfg = config_load(config_path, err, errlen)) == NULL)
		return -1;
	if (app_mount(a, err, errlen) == -1)
		goto fail;
	if (config_url_origin(a->cfg->sdk_url, a->sdk_origin,
	        sizeof(a->sdk_origin)) == -1) {
		snprintf(err, errlen,
		    "[meta] sdk_url: cannot parse its origin");
		goto fail;
	}
	/* template.c names file:line; the operator also needs the directory. */
	if ((a->tmpl = tmpl_load_dir(a->cfg->template_dir, why, sizeof(why))) ==
	    NULL) {
		snprintf(err, errlen, "%s/%s", a->cfg->template_dir, why);
		goto fail;
	}
	if (!tmpl_exists(a->tmpl, "error")) {
		snprintf(err, errlen, "%s/error.html: missing",
		    a->cfg->template_dir);
		goto fail;
	}
	/*
	 * The key ring is checked (mode 0600, well-formed) here too. Workers
	 * share the supervisor's opened ring: its pages are locked in the
	 * supervisor and read-only, so they stay shared and resident in
	 * every child. A worker re-opens the ring by itself when it changed
	 * on disk (app_vault) or when it meets a newer key version.
	 */
	if ((a->vault = vault_open(a->cfg->key_ring_file, err, errlen)) == NULL)
		goto fail;
	return 0;
fail:
	app_free(a);
	return -1;
}

int
app_signin_init(char *err, size_t errlen)
{
	if (auth_init() == -1) {
		snprintf(err, errlen, "out of memory (sign-in set-up)");
		return -1;
	}
	return 0;
}

/*
 * What must not be shared across fork: the curl handle (its connections
 * and TLS sessions) and the MySQL connections are opened per process.
 */
int
app_start(struct app *a, char *err, size_t errlen)
{
	if ((a->graph = graph_new(a->cfg)) == NULL) {
		snprintf(err, errlen, "cannot set up the Meta Graph client");
		return -1;
	}
	if ((a->db = db_new(a->cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		graph_free(a->graph);
		a->graph = NULL;
		return -1;
	}
	/* Connect button → 303 to Meta's dialog: the CSP must allow it. */
	resp_set_form_origins(a->cfg->dialog_base_url);
	resp_set_sdk_origins(a->sdk_origin, a->cfg->dialog_base_url);
	return 0;
}

struct vault *
app_vault(struct app *a)
{
	char err[512];

	switch (
	    vault_refresh(&a->vault, a->cfg->key_ring_file, err, sizeof(err))) {
	case VAULT_RELOADED:
		log_info("key ring reloaded: now at version %u",
		    (unsigned)vault_current_version(a->vault));
		break;
	case VAULT_UNREADABLE:
		log_err("key ring not reloaded, still at version %u: %s",
		    (unsigned)vault_current_version(a->vault), err);
		break;
	case VAULT_CURRENT:
		break;
	}
	return a->vault;
}

void
app_idle(struct app *a, int all)
{
	if (a->sends != NULL && a->db != NULL)
		store_send_flush(a->db, a->sends, all);
}

long
app_idle_ms(const struct app *a)
{
	return store_send_due_ms(a->sends);
}

void
app_free(struct app *a)
{
	app_idle(a, 1);
	free(a->sends);
	a->sends = NULL;
	apigate_free(a);
	tmpl_free(a->tmpl);
	db_free(a->db);
	vault_close(a->vault);
	graph_free(a->graph);
	config_free(a->cfg);
	a->vault = NULL;
	a->graph = NULL;
	a->tmpl = NULL;
	a->db = NULL;
	a->cfg = NULL;
}

/*
 * A request the parser refused: the status says whose fault it is (414,
 * 413, 415, 400 for the client; 500 when we ran out of memory) and the
 * page says what, in request.c's words.
 */
/*
 * Whether the request is for the internal API, which answers JSON even
 * before its route is known. req_init leaves the raw path (with the
 * mount point) when it refuses a request, the path below it otherwise.
 */
static int
app_is_api(const struct ctx *c)
{
	const char *p = c->req->path;
	size_t      m = strlen(c->app->mount);

	if (p == NULL)
		return 0;
	if (m > 0 && strncmp(p, c->app->mount, m) == 0 && p[m] == '/')
		p += m;
	return strncmp(p, "/api/", 5) == 0;
}

static void
app_refuse(struct ctx *c, enum req_err err, const char *why)
{
	int status = 400;

	switch (err) {
	case REQ_TOO_LONG:
		status = 414;
		break;
	case REQ_TOO_LARGE:
		status = 413;
		break;
	case REQ_NOT_FORM:
		status = 415;
		break;
	case REQ_NOMEM:
		if (app_is_api(c))
			(void)api_error(c, 500, "internal", why);
		else
			(void)view_internal(c, why);
		return;
	case REQ_BAD_ENCODING:
	case REQ_BAD_FIELDS:
	case REQ_BAD_LENGTH:
	case REQ_CUT_SHORT:
	case REQ_OK:
		break;
	}
	/* doc/contract.md, Internal API: too_large, else invalid_request. */
	if (app_is_api(c))
		(void)api_error(c, status,
		    status == 413 ? "too_large" : "invalid_request", why);
	else
		(void)view_error(c, status, why);
}

int
app_routes_print(FILE *f)
{
	static const struct {
		int         m;
		const char *name;
	} names[] = { { REQ_GET, "GET" }, { REQ_POST, "POST" },
		{ REQ_DELETE, "DELETE" } };
	size_t i, k;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if ((routes[i].methods & names[k].m) &&
			    fprintf(f, "%s %s\n", names[k].name,
			        routes[i].pattern) < 0)
				return -1;
	return fflush(f) == 0 ? 0 : -1;
}

/* The Allow header of a 405 (RFC 9110 §10.2.1): the route's methods. */
static void
app_allow(int allowed, char *out, size_t len)
{
	static const struct {
		int         m;
		const char *name;
	} names[] = { { REQ_GET, "GET, HEAD" }, { REQ_POST, "POST" },
		{ REQ_DELETE, "DELETE" } };
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (allowed & names[i].m)
			n += (size_t)snprintf(out + n, n < len ? len - n : 0,
			    "%s%s", n ? ", " : "", names[i].name);
}

/*
 * The largest body rt takes: a form's, the webhook's, an upload's (whose
 * handler then applies the file type's smaller limit). With no route
 * (404, 405) the larger of a form's and the webhook's, as before a route
 * is known: only the two upload routes take more.
 */
static size_t
app_body_limit(const struct config *cfg, const struct route *rt)
{
	if (rt != NULL && (rt->flags & ROUTE_UPLOAD))
		return cfg->api_max_upload_bytes;
	if (rt != NULL && (rt->flags & ROUTE_RAW_BODY))
		return cfg->webhook_max_body;
	if (rt != NULL)
		return cfg->max_body;
	return cfg->max_body > cfg->webhook_max_body ? cfg->max_body
	                                             : cfg->webhook_max_body;
}

/*
 * The request's id on every log line until it ends (log.h): the
 * client's X-Request-Id when it is a plain token (a load balancer's or
 * the calling service's, so one id follows a request across systems),
 * else a new one. Anything else the client sent is not echoed: it could
 * be made to look like another request's id, or carry what a log must
 * not.
 */
static void
app_request_id(FCGX_Request *f)
{
	const char *id = FCGX_GetParam("HTTP_X_REQUEST_ID", f->envp);
	char        made[33];

	if (log_request_id_valid(id)) {
		log_set_request_id(id);
		return;
	}
	log_request_id_make(made);
	log_set_request_id(made);
}

/* A webhook delivery's outcome, from its answer (handlers/webhooks.c). */
static const char *
app_hook_outcome(int status)
{
	switch (status) {
	case 200:
		return "accepted";
	case 403:
		return "bad_signature";
	case 413:
		return "too_large";
	case 503:
		return "database_unavailable";
	default:
		return status >= 500 ? "error" : "refused";
	}
}

void
app_handle(struct app *a, FCGX_Request *f)
{
	struct req          req;
	struct resp         resp;
	struct ctx          c;
	const struct route *rt = NULL;
	char                why[256] = "", allow[32];
	enum req_err        err;
	int                 status, allowed;

	resp_init(&resp);
	memset(&c, 0, sizeof(c));
	c.app = a;
	c.req = &req;
	c.resp = &resp;

	app_request_id(f);
	db_request_begin(a->db);
	graph_budget_start(a->graph);
	if ((err = req_init(&req, f, a->mount, why, sizeof(why))) != REQ_OK) {
		app_refuse(&c, err, why);
		goto send;
	}
	rt = router_match(routes, sizeof(routes) / sizeof(routes[0]),
	    req.method, req.path, req.slug, &req.var, &status, &allowed);
	/*
	 * Over its route's limit (or, with no route, over every limit but
	 * an upload's): refused before a byte of the body is read, before
	 * the gate. Routing costs no I/O.
	 */
	if (req.content_length > app_body_limit(a->cfg, rt)) {
		app_refuse(&c, REQ_TOO_LARGE,
		    "What you sent is larger than this server accepts.");
		goto send;
	}
	if (rt == NULL) {
		app_allow(allowed, allow, sizeof(allow));
		/* An API client reads JSON, whatever it asked for. */
		if (strncmp(req.path, "/api/", 5) == 0)
			api_error(&c, status,
			    status == 405 ? "method_not_allowed" : "not_found",
			    status == 405
			        ? "this route does not take that method"
			        : "no such route");
		else if (status == 405)
			view_error(&c, 405,
			    "This address does not accept "
			    "that kind of request.");
		else
			view_error(&c, 404,
			    "There is nothing at this "
			    "address. Check the link, or go back to your "
			    "workspace settings.");
		if (status == 405)
			resp_header(&resp, "Allow", allow);
		goto send;
	}
	/* An API route takes JSON (app_fields parses it) or raw bytes,
	   never a form; an upload's handler reads its own body. */
	if (!(rt->flags & ROUTE_UPLOAD) &&
	    (err = req_read_body(&req, app_body_limit(a->cfg, rt),
	         !(rt->flags & ROUTE_RAW_BODY) && rt->kind != ROUTE_API, why,
	         sizeof(why))) != REQ_OK) {
		app_refuse(&c, err, why);
		goto send;
	}
	if ((rt->flags & ROUTE_SESSION) && app_gate(&c, rt) == ANSWERED)
		goto send;
	if (rt->kind == ROUTE_API && apigate_check(&c, rt) == ANSWERED)
		goto send;
	if (app_fields(&c, rt) == ANSWERED)
		goto send;
	(void)rt->fn(&c); /* always ANSWERED: see app.h */
send:
	/* Its slot in the Meta bulkhead is free before a slow client
	   reads the answer. */
	graph_budget_end(a->graph);
	/* The request's id, for the client to quote (issue 15, Logs). */
	resp_header(&resp, "X-Request-Id", log_request_id());
	resp_send(&resp, f->out, req.method == REQ_HEAD);
	log_request(req.method_str, req.path ? req.path : "-", resp.status,
	    clk_us() - req.start_us);
	metrics_request(rt ? (int)(rt - routes) : -1, resp.status,
	    clk_us() - req.start_us);
	if (rt != NULL && rt->fn == h_webhook_event)
		metrics_webhook(app_hook_outcome(resp.status));
	json_object_put(c.json);
	vault_box_free(&c.pre_box);
	resp_free(&resp);
	req_free(&req);
	log_set_request_id(NULL);
}
