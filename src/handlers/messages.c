/*
 * POST /api/v1/w/{slug}/messages (doc/contract.md, Internal API: Sending
 * messages): a Cloud API message object sent from one of the workspace's
 * own numbers with its own token, at most once per Idempotency-Key. A
 * route family of its own: the only API route that claims and settles
 * idempotency keys and counts send health.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "../app.h"
#include "../config.h"
#include "../graph.h"
#include "../log.h"
#include "../message.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/idempotency.h"
#include "../store/numbers.h"
#include "../store/sends.h"
#include "../vault.h"
#include "handlers.h"

/*
 * The request a key stands for: SHA-256 of the body's bytes as sent.
 * The explicit "from" is in them; the default number a request without
 * one resolved to is not, on purpose: a retry after the default changed
 * is still the same request, and must be answered with the first
 * outcome, not refused as another.
 */
static void
msgs_hash(const struct ctx *c, unsigned char out[IDEM_HASH])
{
	crypto_hash_sha256(out, (const unsigned char *)c->req->body.data,
	    c->req->body.len);
}

/*
 * A running claim older than this had its worker die mid-call: two
 * request budgets, retries and all, cannot still be under way.
 */
static long long
msgs_stale_s(const struct ctx *c)
{
	long long s = 2 * (long long)c->app->cfg->request_budget_ms / 1000;

	return s > 1 ? s : 1;
}

/*
 * Claims the key: GO_ON when this request holds it, else ANSWERED: the
 * first outcome replayed (Idempotent-Replayed: true), 409 in_progress,
 * 400 for a different request under the same key, 502 for a first
 * attempt that never finished, 503 when the database does not answer.
 */
static enum answer
msgs_claim(struct ctx *c, const char *key)
{
	unsigned char   hash[IDEM_HASH];
	struct idem_row row;
	char            msg[400];
	enum store_rc   rc;
	enum answer     a;

	msgs_hash(c, hash);
	rc = store_idem_claim(c->app->db, &c->ws, key, hash, &row);
	if (rc == STORE_OK)
		return GO_ON;
	if (rc != STORE_DUP)
		return api_db_down(c);
	if (sodium_memcmp(row.hash, hash, IDEM_HASH) != 0)
		a = api_error(c, 400, "invalid_request",
		    "this Idempotency-Key was used in the last 24 hours for a "
		    "different request (another body); a new message needs a "
		    "new key");
	else if (row.done) {
		resp_text(c->resp, row.status, row.body);
		snprintf(c->resp->ctype, sizeof(c->resp->ctype),
		    "application/json");
		resp_header(c->resp, "Idempotent-Replayed", "true");
		a = ANSWERED;
	} else if (row.age_s > msgs_stale_s(c)) {
		snprintf(msg, sizeof(msg),
		    "the first request with this Idempotency-Key started %llds "
		    "ago and never finished (its worker stopped while calling "
		    "Meta): whether Meta sent the message is unknown, and it is "
		    "not sent again",
		    row.age_s);
		a = api_error(c, 502, "meta_unavailable", msg);
	} else
		a = api_error(c, 409, "in_progress",
		    "a request with this Idempotency-Key is still being sent; "
		    "ask again in a moment for its outcome");
	idem_row_free(&row);
	return a;
}

/*
 * After the answer is in c->resp: kept for the key (a repeat gets it
 * back) when Meta was called and answered, or may have acted; released
 * when Meta was surely not called or proved it did nothing, so a retry
 * can send. Either way ANSWERED.
 */
static enum answer
msgs_settle(struct ctx *c, const char *key, int keep)
{
	enum store_rc rc;

	if (key == NULL)
		return ANSWERED;
	rc = keep ? store_idem_finish(c->app->db, &c->ws, key, c->resp->status,
	                c->resp->body.data, c->resp->body.len)
	          : store_idem_release(c->app->db, &c->ws, key);
	if (rc != STORE_OK)
		log_err("workspace %llu: idempotency key not %s: a repeat "
		        "gets 409 in_progress until the claim is stale",
		    (unsigned long long)c->ws.id, keep ? "kept" : "released");
	return ANSWERED;
}

/*
 * The sending number: from when given (one of the workspace's active
 * numbers, else 400: never another workspace's, whatever it says),
 * else the default, which the connection row mirrors.
 */
static enum answer
msgs_from(struct ctx *c, const struct conn_row *r, char phone[33])
{
	struct num_row n;
	enum store_rc  rc;
	char           msg[200];

	if (!c->in[MSG_FROM].set) {
		if (*r->phone_number_id == '\0')
			return api_error(c, 409, "not_connected",
			    "this workspace has no default phone number yet");
		snprintf(phone, 33, "%s", r->phone_number_id);
		return GO_ON;
	}
	rc = store_num_get(c->app->db, &c->ws, c->in[MSG_FROM].s, &n);
	if (rc == STORE_NOTFOUND)
		return api_error(c, 400, "invalid_request",
		    "from is not one of this workspace's phone numbers");
	if (rc != STORE_OK)
		return api_db_down(c);
	if (strcmp(n.state, NUM_ACTIVE) != 0) {
		snprintf(msg, sizeof(msg),
		    "from is one of this workspace's numbers, but it cannot "
		    "send yet (%s)",
		    n.state);
		return api_error(c, 400, "invalid_request", msg);
	}
	snprintf(phone, 33, "%s", n.id);
	return GO_ON;
}

/* 200 {"message_id","to","from"}: to as Meta resolved it (wa_id). */
static enum answer
msgs_sent(struct ctx *c, const struct graph_sent *s, const char *phone)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return api_json(c, 500, NULL);
	json_object_object_add(o, "message_id",
	    json_object_new_string(s->message_id));
	json_object_object_add(o, "to",
	    json_object_new_string(*s->wa_id ? s->wa_id : c->in[MSG_TO].s));
	json_object_object_add(o, "from", json_object_new_string(phone));
	return api_json(c, 200, o);
}

/* Send health: Meta's words for a failure, as the page shows them. */
static void
msgs_count(struct ctx *c, int ok, const struct graph_err *e)
{
	char words[1100];

	if (ok)
		words[0] = '\0';
	else
		snprintf(words, sizeof(words), "%s%s%s%s", e->message,
		    *e->details ? " (" : "", e->details,
		    *e->details ? ")" : "");
	if (c->app->sends == NULL &&
	    (c->app->sends = calloc(1, sizeof(*c->app->sends))) == NULL) {
		log_warn("workspace %llu: send not counted in send health "
		         "(out of memory)",
		    (unsigned long long)c->ws.id);
		return;
	}
	if (store_send_count(c->app->db, c->app->sends, &c->ws, ok, words) !=
	    STORE_OK)
		log_warn("workspace %llu: send not counted in send health",
		    (unsigned long long)c->ws.id);
}

enum answer
h_api_messages(struct ctx *c)
{
	struct conn_row     r;
	struct vault_secret tok;
	struct graph_sent   sent;
	struct graph_err    e;
	const char *key = c->in[MSG_IDEM_KEY].set ? c->in[MSG_IDEM_KEY].s
	                                          : NULL;
	char        err[300], phone[33];
	int         rc, keep;

	if (msg_check(c->json, err, sizeof(err)) == -1)
		return api_error(c, 400, "invalid_request", err);
	if (key != NULL && msgs_claim(c, key) == ANSWERED)
		return ANSWERED;
	if (api_ready_token(c, &r, &tok) == ANSWERED)
		return msgs_settle(c, key, 0);
	if (msgs_from(c, &r, phone) == ANSWERED) {
		vault_secret_free(&tok);
		return msgs_settle(c, key, 0);
	}
	/* The URL is built from the stored id alone (graph_node). */
	rc = graph_send_message(c->app->graph, tok.data, phone, c->json, &sent,
	    &e);
	vault_secret_free(&tok);
	if (rc == 0) {
		msgs_count(c, 1, NULL);
		/* Sent: kept whatever the answer, even a 500 of ours. */
		(void)msgs_sent(c, &sent, phone);
		return msgs_settle(c, key, 1);
	}
	if (!e.unavailable)
		msgs_count(c, 0, &e);
	/*
	 * Meta proved it did nothing: a bulkhead or breaker refusal (not
	 * called), a rate limit (refused for the rate), a token it no
	 * longer takes (190: a retry after reconnecting must send). Any
	 * other failure is kept, 422 and a 502 that may have been sent
	 * alike: a retry with the key gets the same answer, never a
	 * second message.
	 */
	keep = !(e.unavailable || graph_err_is_rate_limit(&e) ||
	    graph_err_is_token(&e));
	(void)api_graph_failed(c, "sending the message", VAULT_KIND_WABA, &e);
	return msgs_settle(c, key, keep);
}
