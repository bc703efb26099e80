/*
 * Every route handler; one file per route family (doc/conventions.md). Each
 * returns ANSWERED (app.h). A route's declared fields (app.c's table)
 * arrive checked in c->in[]: the enums below name their indexes, in the
 * order the table declares them.
 */
#ifndef WABA_HANDLERS_H
#define WABA_HANDLERS_H

#include "../app.h"

/* health.c */
enum answer h_healthz(struct ctx *);
/* metrics.c: GET /metrics, [metrics] allow only. */
enum answer h_metrics(struct ctx *);
/* auth.c */
/*
 * Once per worker, before it serves: the hash that unknown emails are
 * checked against, so that no sign-in pays for making it. -1 when out
 * of memory.
 */
int         auth_init(void);
enum answer h_login_get(struct ctx *);
enum { LOGIN_EMAIL, LOGIN_PASSWORD, LOGIN_TOKEN };
enum answer h_login_post(struct ctx *);
enum answer h_logout(struct ctx *);
/* settings.c */
enum { SETTINGS_FLASH };
enum answer h_settings(struct ctx *);
/* settings_health.c: Check now */
enum answer h_check_now(struct ctx *);
/* oauth.c */
enum { CONNECT_POPUP };
enum answer h_connect(struct ctx *);
enum { CB_STATE, CB_CODE, CB_ERROR, CB_ERROR_DESC };
enum answer h_oauth_callback(struct ctx *);
enum { ES_CODE, ES_STATE, ES_WABA, ES_PHONE, ES_BUSINESS };
enum answer h_embedded_signup(struct ctx *);
/* phones.c */
enum { PHONES_PICK };
enum answer h_phones_get(struct ctx *);
enum { PHONES_PHONE, PHONES_PIN, PHONES_WABA, PHONES_SET_PIN };
enum answer h_phones_post(struct ctx *);
enum { PHONE_ID };
enum answer h_phone_default(struct ctx *);
enum { REMOVE_ID, REMOVE_DEREGISTER, REMOVE_CONFIRM };
enum answer h_phone_remove(struct ctx *);
enum { CODE_ID, CODE_METHOD, CODE_LANGUAGE };
enum answer h_phone_request_code(struct ctx *);
enum { VERIFY_ID, VERIFY_CODE, VERIFY_PIN, VERIFY_SET_PIN };
enum answer h_phone_verify_code(struct ctx *);
enum { SYNC_ID, SYNC_TYPE };
enum answer h_phone_sync(struct ctx *);
/* Verify's part for the numbers (phones.c), with the decrypted token. */
enum answer phones_refresh(struct ctx *, const char *token, int *done);
/* actions.c */
enum answer h_verify(struct ctx *);
enum { TEST_TO };
enum answer h_test_message(struct ctx *);
enum answer h_disconnect(struct ctx *);
/* catalog.c */
enum { CATALOG_ID, CATALOG_TOKEN };
enum answer h_catalog(struct ctx *);
enum answer h_catalog_disconnect(struct ctx *);
/* webhooks.c */
enum { HUB_MODE, HUB_TOKEN, HUB_CHALLENGE };
enum answer h_webhook_verify(struct ctx *);
enum { HOOK_SIGNATURE };
enum answer h_webhook_event(struct ctx *);
/* api.c: the internal API (/api/v1/). */
struct json_object;
/* o as the answer, with status; takes o (NULL: a 500 for out of memory). */
enum answer api_json(struct ctx *, int status, struct json_object *o);
/* {"error":{"code":code,"message":message}} (doc/contract.md, Errors). */
enum answer api_error(struct ctx *, int status, const char *code,
    const char *message);
/* 503 unavailable: the database did not answer. */
enum answer api_db_down(struct ctx *);
struct conn_row;
/*
 * The workspace's connection row into r; GO_ON when it is connected
 * with a token, else ANSWERED with 409 not_connected or needs_reconnect
 * (with the stored reason), or 503.
 */
enum answer api_ready(struct ctx *, struct conn_row *r);
struct vault_secret;
/*
 * The workspace's token of kind (VAULT_KIND_WABA, VAULT_KIND_CATALOG)
 * decrypted into out (wipe it with vault_secret_free); GO_ON, else
 * ANSWERED (409 not_connected, 503, 500).
 */
enum answer api_token(struct ctx *, const char *kind, struct vault_secret *out);
/*
 * api_ready and api_token(VAULT_KIND_WABA) in one round trip: the
 * gateway's read before a Meta call with the WhatsApp token.
 */
enum answer api_ready_token(struct ctx *, struct conn_row *r,
    struct vault_secret *out);
struct graph_err;
/*
 * A failed Graph call made with the token of kind, answered per
 * doc/contract.md (Errors): 503 unavailable (bulkhead, breaker: Meta
 * not called) with Retry-After; a token Meta no longer accepts (190)
 * marks the connection (or the catalog) needs_reconnect with the reason
 * and answers 409 needs_reconnect; Meta's rate limits 429 rate_limited
 * with Retry-After; Meta's refusal of the content 422 meta_rejected;
 * anything else 502 meta_unavailable, saying whether Meta may have
 * acted. Meta's code, subcode and fbtrace_id go in error.meta. what
 * names the call in the message and the log ("sending the message").
 */
enum answer api_graph_failed(struct ctx *, const char *what, const char *kind,
    const struct graph_err *e);
enum answer h_api_connection(struct ctx *);
/* events.c: GET /api/v1/w/{slug}/events */
enum { EV_AFTER, EV_LIMIT, EV_WAIT };
enum answer h_api_events(struct ctx *);
/* api_catalog.c */
enum { CITEMS_TYPE };
enum answer h_api_catalog_items(struct ctx *);
enum { CBATCH_HANDLE };
enum answer h_api_catalog_batch(struct ctx *);
/* media.c: the raw uploads (ROUTE_UPLOAD: the handler reads the body). */
enum { MEDIA_FROM, MEDIA_CTYPE };
enum answer h_api_media(struct ctx *);
enum { UPLOAD_CTYPE, UPLOAD_NAME };
enum answer h_api_uploads(struct ctx *);
/* templates.c: the WABA's message templates through the gateway. */
enum { TPLS_STATUS, TPLS_NAME, TPLS_AFTER, TPLS_LIMIT };
enum answer h_api_templates_get(struct ctx *);
enum { TPLC_NAME, TPLC_LANGUAGE, TPLC_CATEGORY };
enum answer h_api_templates_post(struct ctx *);
enum { TPLD_NAME, TPLD_HSM_ID };
enum answer h_api_template_delete(struct ctx *);
/* messages.c: POST /api/v1/w/{slug}/messages. */
enum {
	MSG_TO,
	MSG_TYPE,
	MSG_FROM,
	MSG_RECIPIENT_TYPE,
	MSG_CONTEXT,
	MSG_IDEM_KEY
};
enum answer h_api_messages(struct ctx *);
/* outbox.c: POST /outbox, GET and DELETE /outbox/{id} (issue 13). */
enum { OBX_MESSAGES };
enum { OBX_ID = 0 };
enum answer h_api_outbox_post(struct ctx *);
enum answer h_api_outbox_get(struct ctx *);
enum answer h_api_outbox_delete(struct ctx *);

#endif
