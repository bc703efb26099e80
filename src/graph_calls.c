/*
 * graph_calls: the Graph endpoints the connection flow uses, one function
 * each (graph.h documents them), on top of the transport in graph.c:
 * each builds its path, query and body, computes the appsecret_proof of
 * its token, runs the call through graph_do and parses the answer with
 * graph_parse.c. Proofs, form bodies and answers are wiped after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "graph.h"
#include "graph_int.h"

#define GRAPH_PHONE_FIELDS \
	"id,display_phone_number,verified_name," \
	"quality_rating,status,code_verification_status,name_status," \
	"messaging_limit_tier,platform_type,is_on_biz_app"

int
graph_fail(struct graph_err *err, const char *why)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->message, sizeof(err->message), "%s", why);
	return -1;
}

static int
graph_token_answer(struct graph *g, const struct graph_req *r,
    struct buf *token_out, long *expires_in, struct graph_err *err)
{
	struct buf resp;
	int        rc = -1;

	*expires_in = 0;
	if (graph_do(g, r, &resp, err) == -1)
		return -1;
	rc = graph_parse_access_token(resp.data, resp.len, token_out,
	    expires_in, err);
	buf_free_secret(&resp);
	return rc;
}

/*
 * The oauth/access_token calls carry the app secret, the code and the
 * short-lived token: all go in a POST form body. Meta's Login guides
 * show a GET with a query string, but this is an OAuth 2.0 token
 * endpoint, which must take POST (RFC 6749 §3.2), with client
 * credentials in the body and never in the URI (§2.3.1); Graph takes
 * any call's parameters from a form body.
 */
static int
graph_token_post(struct graph *g, const char *endpoint,
    const char *const *query, const char *const *form, int idempotent,
    struct buf *token_out, long *expires_in, struct graph_err *err)
{
	struct graph_req r = { .endpoint = endpoint,
		.path = "oauth/access_token",
		.params = query,
		.ctype = "application/x-www-form-urlencoded",
		.idempotent = idempotent };
	char            *body;
	int              rc;

	*expires_in = 0;
	if ((body = graph_form_encode(form)) == NULL)
		return graph_fail(err, "out of memory");
	r.body = body;
	r.bodylen = strlen(body);
	rc = graph_token_answer(g, &r, token_out, expires_in, err);
	graph_secret_free(body);
	return rc;
}

int
graph_exchange_code(struct graph *g, const char *code, const char *redirect_uri,
    struct buf *token_out, long *expires_in, struct graph_err *err)
{
	const char *form[] = { "client_id", g->app_id, "client_secret",
		g->app_secret, "code", code, "redirect_uri", redirect_uri,
		NULL };

	if (code == NULL)
		return graph_fail(err, "no code to exchange");
	/* A code from FB.login goes without redirect_uri: the form ends
	   before it. */
	if (redirect_uri == NULL)
		form[6] = NULL;
	/* Not idempotent: Meta spends a code on its first use, even one
	   that then fails ("Manually Build a Login Flow"). */
	return graph_token_post(g, "access_token", NULL, form, 0, token_out,
	    expires_in, err);
}

int
graph_exchange_long_lived(struct graph *g, const char *short_token,
    struct buf *token_out, long *expires_in, struct graph_err *err)
{
	char              proof[65];
	const char *const query[] = { "appsecret_proof", proof, NULL };
	const char *const form[] = { "grant_type", "fb_exchange_token",
		"client_id", g->app_id, "client_secret", g->app_secret,
		"fb_exchange_token", short_token, NULL };
	int               rc;

	if (short_token == NULL)
		return graph_fail(err, "no access token to exchange");
	graph_appsecret_proof(g->app_secret, short_token, proof);
	/* Not idempotent: each exchange mints a token; one lost in a 5xx
	   may exist, and a repeat is not the same call. */
	rc = graph_token_post(g, "exchange_token", query, form, 0, token_out,
	    expires_in, err);
	sodium_memzero(proof, sizeof(proof));
	return rc;
}

int
graph_debug_token(struct graph *g, const char *token,
    struct graph_token_info *ti, struct graph_err *err)
{
	struct buf app = BUF_INIT, resp;
	char       proof[65];
	/*
	 * The "debug_token" reference documents only GET with input_token
	 * in the query (the endpoint has no POST), so the inspected token
	 * stays in the URL; the app token that authenticates the call
	 * goes in the header like any other.
	 */
	const char *const params[] = { "input_token", token, "appsecret_proof",
		proof, NULL };
	struct graph_req  r = { .endpoint = "debug_token",
		 .path = "debug_token",
		 .params = params,
		 .idempotent = 1 };
	int               rc = -1;

	memset(ti, 0, sizeof(*ti));
	if (token == NULL)
		return graph_fail(err, "no access token to inspect");
	/* "debug_token" reference: inspected with an app access token,
	   APPID|APPSECRET, whose proof is computed like any token's (one
	   printf into an empty buf: one allocation, no stale copy). */
	if (buf_printf(&app, "%s|%s", g->app_id, g->app_secret) == -1)
		return graph_fail(err, "out of memory");
	r.token = buf_str(&app);
	graph_appsecret_proof(g->app_secret, buf_str(&app), proof);
	if (graph_do(g, &r, &resp, err) == 0) {
		rc = graph_parse_token_info(resp.data, resp.len, ti, err);
		buf_free_secret(&resp);
	}
	buf_free_secret(&app);
	sodium_memzero(proof, sizeof(proof));
	return rc;
}

int
graph_phone_numbers(struct graph *g, const char *token, const char *waba_id,
    struct graph_phone **list, size_t *n, struct graph_err *err)
{
	struct buf       path = BUF_INIT, resp;
	char             proof[65], after[GRAPH_CURSOR_MAX];
	const char      *params[] = { "fields", GRAPH_PHONE_FIELDS,
		     "appsecret_proof", proof, NULL, NULL, NULL };
	struct graph_req rr = { .endpoint = "phone_numbers",
		.params = params,
		.token = token,
		.idempotent = 1 };
	int              page, rc = -1;

	*list = NULL;
	*n = 0;
	if (token == NULL || waba_id == NULL)
		return graph_fail(err, "no access token or WABA id");
	if (buf_printf(&path, "%s/phone_numbers", waba_id) == -1)
		return graph_fail(err, "out of memory");
	rr.path = buf_str(&path);
	graph_appsecret_proof(g->app_secret, token, proof);
	after[0] = '\0';
	/* Graph cursor paging, bounded: a WABA has a handful of numbers. */
	for (page = 0; page < GRAPH_PHONE_PAGES; page++) {
		if (after[0] != '\0') {
			params[4] = "after";
			params[5] = after;
		}
		if (graph_do(g, &rr, &resp, err) == -1)
			goto out;
		rc = graph_parse_phones(resp.data, resp.len, list, n, after,
		    err);
		buf_free_secret(&resp);
		if (rc == -1)
			goto out;
		if (after[0] == '\0')
			break;
	}
	rc = 0;
out:
	if (rc == -1) {
		free(*list);
		*list = NULL;
		*n = 0;
	}
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	return rc;
}

/* GET {id}?fields=... or POST {id}/{edge}: the shape of the rest. */
static int
graph_node(struct graph *g, const char *endpoint, const char *token,
    const char *id, const char *edge, const char *fields, const char *ctype,
    const char *body, int idempotent, struct buf *resp, struct graph_err *err)
{
	struct buf        path = BUF_INIT;
	char              proof[65];
	const char *const params[] = { "appsecret_proof", proof,
		fields ? "fields" : NULL, fields, NULL };
	struct graph_req  r = { .endpoint = endpoint,
		 .params = params,
		 .token = token,
		 .ctype = ctype,
		 .body = body,
		 .bodylen = body ? strlen(body) : 0,
		 .idempotent = idempotent };
	int               rc;

	if (token == NULL || id == NULL)
		return graph_fail(err, "no access token or object id");
	if (buf_printf(&path, "%s%s%s", id, edge ? "/" : "",
	        edge ? edge : "") == -1)
		return graph_fail(err, "out of memory");
	r.path = buf_str(&path);
	graph_appsecret_proof(g->app_secret, token, proof);
	rc = graph_do(g, &r, resp, err);
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	return rc;
}

int
graph_phone(struct graph *g, const char *token, const char *phone_id,
    struct graph_phone *p, struct graph_err *err)
{
	struct buf resp;
	int        rc;

	memset(p, 0, sizeof(*p));
	if (graph_node(g, "phone", token, phone_id, NULL, GRAPH_PHONE_FIELDS,
	        NULL, NULL, 1, &resp, err) == -1)
		return -1;
	rc = graph_parse_phone(resp.data, resp.len, p, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_register(struct graph *g, const char *token, const char *phone_id,
    const char *pin, struct graph_err *err)
{
	struct buf        resp;
	const char *const form[] = { "messaging_product", "whatsapp", "pin",
		pin, NULL };
	char             *body;
	int               rc = -1;

	if (pin == NULL)
		return graph_fail(err, "no PIN");
	/* Cloud API "Registration": messaging_product and the two-step
	   verification PIN, form-encoded. The body holds the PIN. */
	if ((body = graph_form_encode(form)) == NULL)
		return graph_fail(err, "out of memory");
	/* Not idempotent: registration sets the PIN and moves the number
	   off any other host, and Cloud API limits register calls per
	   number; a repeat after an unknown outcome is not harmless. */
	if (graph_node(g, "register", token, phone_id, "register", NULL,
	        "application/x-www-form-urlencoded", body, 0, &resp,
	        err) == 0) {
		rc = graph_parse_success(resp.data, resp.len, err);
		buf_free_secret(&resp);
	}
	graph_secret_free(body);
	return rc;
}

/*
 * A form-encoded POST to one of a number's edges (edge NULL: the node
 * itself), answered {"success":true}. None is repeated blindly: each
 * sends a code, counts an attempt or changes the PIN at Meta.
 */
static int
graph_phone_post(struct graph *g, const char *endpoint, const char *token,
    const char *phone_id, const char *edge, const char *const *form,
    struct graph_err *err)
{
	struct buf resp;
	char      *body;
	int        rc = -1;

	if ((body = graph_form_encode(form)) == NULL)
		return graph_fail(err, "out of memory");
	if (graph_node(g, endpoint, token, phone_id, edge, NULL,
	        "application/x-www-form-urlencoded", body, 0, &resp,
	        err) == 0) {
		rc = graph_parse_success(resp.data, resp.len, err);
		buf_free_secret(&resp);
	}
	graph_secret_free(body);
	return rc;
}

int
graph_request_code(struct graph *g, const char *token, const char *phone_id,
    const char *method, const char *language, struct graph_err *err)
{
	const char *const form[] = { "code_method", method, "language",
		language, NULL };

	return graph_phone_post(g, "request_code", token, phone_id,
	    "request_code", form, err);
}

int
graph_verify_code(struct graph *g, const char *token, const char *phone_id,
    const char *code, struct graph_err *err)
{
	const char *const form[] = { "code", code, NULL };

	return graph_phone_post(g, "verify_code", token, phone_id,
	    "verify_code", form, err);
}

int
graph_set_pin(struct graph *g, const char *token, const char *phone_id,
    const char *pin, struct graph_err *err)
{
	const char *const form[] = { "pin", pin, NULL };

	/* Cloud API "Two-Step Verification": POST /{phone} with pin. */
	return graph_phone_post(g, "set_pin", token, phone_id, NULL, form, err);
}

int
graph_deregister(struct graph *g, const char *token, const char *phone_id,
    struct graph_err *err)
{
	struct buf resp;
	int        rc = -1;

	/* Not repeated blindly either: it is limited like register. */
	if (graph_node(g, "deregister", token, phone_id, "deregister", NULL,
	        "application/x-www-form-urlencoded", "", 0, &resp, err) == 0) {
		rc = graph_parse_success(resp.data, resp.len, err);
		buf_free_secret(&resp);
	}
	return rc;
}

int
graph_subscribe(struct graph *g, const char *token, const char *waba_id,
    struct graph_err *err)
{
	struct buf resp;
	int        rc;

	if (graph_node(g, "subscribed_apps", token, waba_id, "subscribed_apps",
	        NULL, "application/x-www-form-urlencoded", "", 1, &resp,
	        err) == -1)
		return -1;
	rc = graph_parse_success(resp.data, resp.len, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_send_text(struct graph *g, const char *token, const char *phone_id,
    const char *to, const char *body, char message_id[256],
    struct graph_err *err)
{
	struct buf resp;
	char      *json;
	int        rc;

	message_id[0] = '\0';
	if (to == NULL || body == NULL)
		return graph_fail(err, "no recipient or text");
	if ((json = graph_json_text_message(to, body)) == NULL)
		return graph_fail(err, "out of memory");
	/* Not idempotent: a repeated send is a second message. */
	rc = graph_node(g, "messages", token, phone_id, "messages", NULL,
	    "application/json", json, 0, &resp, err);
	free(json);
	if (rc == -1)
		return -1;
	rc = graph_parse_message_id(resp.data, resp.len, message_id, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_send_message(struct graph *g, const char *token, const char *phone_id,
    struct json_object *msg, struct graph_sent *out, struct graph_err *err)
{
	struct buf resp;
	char      *json;
	int        rc;

	memset(out, 0, sizeof(*out));
	if ((json = graph_json_message(msg)) == NULL)
		return graph_fail(err, "no message, or out of memory");
	/* Not idempotent: a repeated send is a second message. */
	rc = graph_node(g, "messages", token, phone_id, "messages", NULL,
	    "application/json", json, 0, &resp, err);
	free(json);
	if (rc == -1)
		return -1;
	rc = graph_parse_sent(resp.data, resp.len, out, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_smb_app_data(struct graph *g, const char *token, const char *phone_id,
    const char *sync_type, char request_id[GRAPH_REQUEST_ID_MAX],
    struct graph_err *err)
{
	const char *const form[] = { "messaging_product", "whatsapp",
		"sync_type", sync_type, NULL };
	struct buf        resp;
	char             *body;
	int               rc = -1;

	request_id[0] = '\0';
	if (sync_type == NULL)
		return graph_fail(err, "no sync_type");
	if ((body = graph_form_encode(form)) == NULL)
		return graph_fail(err, "out of memory");
	/*
	 * Not idempotent: Meta runs each sync_type once per number
	 * ("Onboarding WhatsApp Business app users"), and a second call
	 * is refused, so a lost answer must not be replaced by a retry.
	 */
	if (graph_node(g, "smb_app_data", token, phone_id, "smb_app_data", NULL,
	        "application/x-www-form-urlencoded", body, 0, &resp,
	        err) == 0) {
		rc = graph_parse_request_id(resp.data, resp.len, request_id,
		    err);
		buf_free_secret(&resp);
	}
	graph_secret_free(body);
	return rc;
}

int
graph_catalog(struct graph *g, const char *token, const char *catalog_id,
    char name[201], struct graph_err *err)
{
	struct buf resp;
	int        rc;

	name[0] = '\0';
	if (graph_node(g, "catalog", token, catalog_id, NULL, "id,name", NULL,
	        NULL, 1, &resp, err) == -1)
		return -1;
	rc = graph_parse_catalog(resp.data, resp.len, name, err);
	buf_free_secret(&resp);
	return rc;
}

/*
 * The health monitor's read of a number: the fields graph_phone reads,
 * and those that say whether it can send and where Meta delivers its
 * webhooks (graph.h, struct graph_phone_health).
 */
#define GRAPH_PHONE_HEALTH_FIELDS \
	GRAPH_PHONE_FIELDS ",whatsapp_business_manager_messaging_limit," \
	                   "throughput,health_status,webhook_configuration"

int
graph_phone_health(struct graph *g, const char *token, const char *phone_id,
    struct graph_phone_health *h, struct graph_err *err)
{
	struct buf resp;
	int        rc;

	memset(h, 0, sizeof(*h));
	if (graph_node(g, "phone_health", token, phone_id, NULL,
	        GRAPH_PHONE_HEALTH_FIELDS, NULL, NULL, 1, &resp, err) == -1)
		return -1;
	rc = graph_parse_phone_health(resp.data, resp.len, h, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_subscribed_apps(struct graph *g, const char *token, const char *waba_id,
    int *subscribed, struct graph_err *err)
{
	struct buf resp;
	int        rc;

	*subscribed = 0;
	if (graph_node(g, "subscribed_apps_get", token, waba_id,
	        "subscribed_apps", NULL, NULL, NULL, 1, &resp, err) == -1)
		return -1;
	rc = graph_parse_subscribed(resp.data, resp.len, g->app_id, subscribed,
	    err);
	buf_free_secret(&resp);
	return rc;
}
