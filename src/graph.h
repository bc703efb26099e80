/*
 * graph: the client for Meta's Graph API (doc/architecture.md, The OAuth
 * round trip): the OAuth code exchange, debug_token, and the WhatsApp
 * Business endpoints the connection flow uses.
 *
 * One struct graph per worker holds one reusable curl handle, so
 * connections and TLS sessions to Graph survive between requests. Every
 * call that carries an access token also carries its appsecret_proof;
 * transient failures are retried with jittered exponential backoff;
 * every answer is parsed into typed, length-bounded fields, and a body
 * that is not what Meta documents becomes a bad_response error, never a
 * crash. Tokens are taken and given in plain text: the caller owns and
 * wipes them. Nothing here logs a token, a secret, a code, a PIN or a
 * URL; logs name the endpoint, the HTTP status, Meta's code/subcode and
 * fbtrace_id.
 *
 * graph.c is the handle and the transport, graph_calls.c the calls
 * (graph_media.c those that upload files);
 * graph_encode.c builds what we send and graph_parse.c turns Meta's JSON
 * into these structs (pure functions, unit-tested without network).
 */
#ifndef WABA_GRAPH_H
#define WABA_GRAPH_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;

/* Limits on what one answer may hold. */
#define GRAPH_MAX_BODY       (4 * 1024 * 1024) /* response bytes */
#define GRAPH_PHONES_MAX     200               /* numbers listed per WABA */
#define GRAPH_PHONE_PAGES    10                /* pages followed per listing */
#define GRAPH_CURSOR_MAX     512 /* paging.cursors.after, with NUL */
#define GRAPH_MIN_ATTEMPT_MS 200 /* a retry shorter than this is no use */
#define GRAPH_REQUEST_ID_MAX 129 /* smb_app_data request_id + NUL */

struct graph_err {
	long http_status;  /* 0 when no HTTP answer came */
	long code;         /* Graph error.code, 0 if none */
	long subcode;      /* error.error_subcode, 0 if none */
	int  transient;    /* worth retrying: 429, 5xx, is_transient,
				   rate-limit codes, timeouts */
	int  rejected;     /* Meta's answer says it turned the call
				   away without acting on it: HTTP 429, or a
				   Graph error whose code Meta documents as
				   throttling or downtime (not code 1, which
				   Meta calls only "possibly" temporary) */
	int  maybe_done;   /* a call that is not idempotent failed
				   after it may have reached Meta (a bare
				   5xx, an HTML answer, a timeout after
				   sending): Meta may have acted, so it was
				   not repeated */
	int  unavailable;  /* Meta was not called: max_concurrent_calls
				   in flight, or the circuit breaker open
				   (meta_gate.h) */
	long retry_after;  /* with unavailable: seconds to wait */
	int  timeout;      /* the call timed out */
	int  network;      /* could not connect / TLS / other transport */
	int  tls;          /* with network: Meta's certificate was not
				   verified (untrusted CA, wrong host name) */
	int  bad_response; /* 2xx but body not JSON or fields missing or
				   wrong-typed */
	char type[64];
	char message[512];   /* Meta's message, or ours for transport and
				   parse errors */
	char user_msg[512];  /* error_user_msg when Meta gives one */
	char details[512];   /* error_data.details (Cloud API errors) */
	char fbtrace_id[64]; /* error.fbtrace_id, else the
					   x-fb-trace-id response header */
};

struct graph;

/*
 * Copies what it needs from the config (the app secret too, wiped by
 * graph_free), so the config may be reloaded while the handle lives.
 * NULL on failure (logged), e.g. an http:// graph_base_url that is not
 * loopback.
 */
struct graph *graph_new(const struct config *);
void          graph_free(struct graph *);
/*
 * Starts the time budget ([meta] request_budget_ms) that every Graph call
 * until the next graph_budget_start shares, retries and backoff included:
 * one page must answer before the web server's proxy timeout, however
 * many calls it makes. Called at the start of each HTTP request. Without
 * it (the admin tool) calls have no overall deadline.
 */
void graph_budget_start(struct graph *);
/*
 * The request's Meta calls are over. A request takes one slot of the
 * pool's Meta bulkhead (meta_gate.h) at its first Graph call and keeps
 * it for the calls after, so a flow is never cut off half-way (a code
 * exchanged, then "no capacity" for the rest); this gives it back.
 * graph_budget_start and graph_free do too.
 */
void graph_budget_end(struct graph *);
/*
 * The health monitor's handle (monitor.h): its calls pass the circuit
 * breaker and count for it, but take no slot of the bulkhead, which is
 * the workers' (meta_gate.h, no_slot). The monitor calls Meta one call
 * at a time, so it adds at most one call in flight to the pool's.
 */
void graph_set_background(struct graph *);

/* --- Pure helpers ------------------------------------------------------ */

/*
 * Budget arithmetic. The time one attempt may take: min(timeout_ms,
 * remaining_ms), 0 when nothing remains (do not start it); remaining_ms
 * < 0 means no budget.
 */
long graph_attempt_timeout_ms(long timeout_ms, long remaining_ms);
/* 1 when sleeping backoff_ms still leaves GRAPH_MIN_ATTEMPT_MS for the
   retry within remaining_ms (< 0: no budget, always 1). */
int graph_retry_fits(long backoff_ms, long remaining_ms);

/*
 * A CURLOPT_PREREQFUNCTION for a call that must leave at most once;
 * clientp points at an int counting the requests made. libcurl sends a
 * request again on a fresh connection when a reused one closes before
 * a byte of answer, which Meta may have acted on: the second time
 * aborts the transfer (CURLE_ABORTED_BY_CALLBACK) instead.
 */
int graph_send_once(void *clientp, char *primary_ip, char *local_ip,
    int primary_port, int local_port);
/*
 * The outcome word of waba_graph_calls_total (metrics_graph) for one
 * attempt made outside graph_do (the sender's curl multi handle): by
 * HTTP status when curl_code (a CURLcode) is CURLE_OK, else timeout,
 * tls or network, as graph_do counts its own.
 */
const char *graph_outcome_of(int curl_code, long http_status);
#define GRAPH_SENT_ONCE_MESSAGE \
	"the connection to Meta closed without an answer after the request " \
	"had been sent: Meta may have acted on it, so it is not sent again"
/*
 * The value of an x-fb-trace-id header line ("Name: value\r\n", any
 * case) into out (size >= 2): 1 when line is that header and its value
 * is a plausible trace id ([A-Za-z0-9_/+=-], shorter than size), else 0
 * and out untouched. Header values reach our logs: nothing else passes.
 */
int graph_trace_header(const char *line, size_t len, char *out, size_t size);

/* Hex HMAC-SHA256(key = app_secret, message = token), NUL-terminated. */
void graph_appsecret_proof(const char *app_secret, const char *token,
    char out[65]);
/*
 * base/version/path?k=v&... built with curl's URL API; a malloc'd string
 * (free()) or NULL. path is ids and fixed names: anything but
 * [A-Za-z0-9_/.-], an empty, "." or ".." segment, is refused (NULL), and
 * so is a version that is not [A-Za-z0-9.]. params is NULL or a
 * NULL-terminated array of key, value pairs; keys must be
 * [A-Za-z0-9_.], values are URL-encoded by curl. The result may hold a
 * token: wipe it before freeing when it does.
 */
char *graph_build_url(const char *base, const char *version, const char *path,
    const char *const *params);
/*
 * The same URL for a call without params, in two steps: the prefix
 * (base and version through the URL API, ending in '/') once, then
 * graph_url_join per call. join answers NULL for any path it does not
 * take as it is (then use graph_build_url). Both malloc'd (free()).
 */
char *graph_url_prefix(const char *base, const char *version);
char *graph_url_join(const char *prefix, const char *path);
/*
 * "Authorization: Bearer TOKEN" (RFC 6750 §2.1), malloc'd to its exact
 * size so no copy of the token is left behind by a realloc; wipe it with
 * graph_secret_free. NULL when token is empty or holds a byte outside
 * visible ASCII (a CR or LF would start a header of its own), or on
 * allocation failure.
 */
char *graph_bearer_header(const char *token);
/* The same with scheme "Bearer" or "OAuth" (the Resumable Upload API's
   data calls take only "Authorization: OAuth"); NULL for another. */
char *graph_auth_header(const char *scheme, const char *token);
/*
 * params (key, value, ..., NULL; keys [A-Za-z0-9_.], as for
 * graph_build_url) as an application/x-www-form-urlencoded body: values
 * percent-encoded except RFC 3986 unreserved characters. malloc'd to its
 * exact size (it may hold a secret: wipe it with graph_secret_free);
 * NULL on a bad key or allocation failure. An empty list gives "".
 */
char *graph_form_encode(const char *const *params);
/* Wipes a NUL-terminated string with sodium_memzero, then free()s it. */
void graph_secret_free(char *);
/*
 * Fills err (zeroed first) from an HTTP status and a response body.
 * Returns 0 when the body held a Graph error object, -1 otherwise (err
 * still has a generic message). Sets transient (worth asking again,
 * for a call that may be repeated) and rejected (Meta did not act on
 * it) per Meta's "Handling Errors" guidance and the WhatsApp Cloud API
 * error code table. A 5xx without a Graph error object is transient
 * but never rejected: an edge proxy's 502/504 says nothing about
 * whether the call behind it ran.
 */
int graph_error_parse(long http_status, const char *body, size_t len,
    struct graph_err *);
/* 1 when code (Graph error.code) is one Meta says to wait out and retry. */
int graph_code_is_transient(long code);
/* 1 when code says Meta turned the call away unprocessed (throttling,
   downtime): graph_code_is_transient but for 1, "API Unknown". */
int graph_code_is_rejection(long code);
/* Plain words for the settings page: why Meta refused a token (190). */
const char *graph_reason_190(long subcode);
/* 1 when e is one of Meta's rate limits (HTTP 429, codes 4, 17, 32,
   613, 80000-80014, 130429, 131048, 131056). */
int graph_err_is_rate_limit(const struct graph_err *);
/* Seconds to wait after e: Retry-After for the gateway, the number's
   hold for the sender. */
long graph_err_retry_after(const struct graph_err *);
/* e's fbtrace_id for a log line, or "-" when Meta gave none. */
const char *graph_err_trace(const struct graph_err *e);
/* 1 when err means the token is unusable (code 190, or 102). */
int graph_err_is_token(const struct graph_err *);

/* --- Answers, and their parsers (graph_parse.c) ------------------------- */

struct graph_token_info {
	int     is_valid;
	int64_t expires_at;     /* unix time, 0 = never */
	char    scopes[1001];   /* comma-separated */
	char    waba_ids[1001]; /* comma-separated, from granular_scopes
					   whatsapp_business_management
					   target_ids, de-duplicated, in order */
	size_t  nwaba;
	long    error_code, error_subcode; /* data.error when !is_valid */
	char    error_message[256];
};

/* 1 when waba_id is one of the WABAs debug_token says the token grants. */
int graph_token_has_waba(const struct graph_token_info *, const char *waba_id);

struct graph_phone {
	char id[33];
	char display_phone_number[65];
	char verified_name[201];
	char quality_rating[33];
	char status[65]; /* "status" field, may be empty */
	char code_verification_status[65];
	char name_status[33];          /* APPROVED, PENDING_REVIEW, ... */
	char messaging_limit_tier[33]; /* TIER_1K, ... */
	char platform_type[33];        /* CLOUD_API, NOT_APPLICABLE, ... */
	int  on_biz_app;               /* is_on_biz_app: coexistence */
};

/*
 * Each parses a 2xx body: 0, or -1 with err->bad_response set and a
 * message naming the missing or wrong-typed field.
 */
/* {"access_token","expires_in"?}: the token into tok, an initialized
   buf that is wiped first (the caller wipes it after use with
   buf_free_secret); expires_in 0 when absent. */
int graph_parse_access_token(const char *body, size_t len, struct buf *tok,
    long *expires_in, struct graph_err *);
/* debug_token's {"data":{...}}. */
int graph_parse_token_info(const char *body, size_t len,
    struct graph_token_info *, struct graph_err *);
/*
 * One page of {"data":[numbers],"paging":{...}}: appends to *list and *n
 * (realloc'd; at most GRAPH_PHONES_MAX in all) and writes the next page's
 * cursor into after (GRAPH_CURSOR_MAX bytes), "" on the last page.
 */
int graph_parse_phones(const char *body, size_t len, struct graph_phone **list,
    size_t *n, char *after, struct graph_err *);
/* One phone number object. */
int graph_parse_phone(const char *body, size_t len, struct graph_phone *,
    struct graph_err *);
/* {"success":true}; false or anything else is an error. */
int graph_parse_success(const char *body, size_t len, struct graph_err *);
/* The send-message answer: messages[0].id. */
int graph_parse_message_id(const char *body, size_t len, char message_id[256],
    struct graph_err *);
/* What a send answered: the wamid, and the user's WhatsApp id. */
struct graph_sent {
	char message_id[256];
	char wa_id[141]; /* contacts[0].wa_id, "" when Meta gave none */
};
int graph_parse_sent(const char *body, size_t len, struct graph_sent *,
    struct graph_err *);
/*
 * The coexistence sync answer {"messaging_product","request_id"}: the
 * request id ([A-Za-z0-9_-], shorter than GRAPH_REQUEST_ID_MAX).
 */
int graph_parse_request_id(const char *body, size_t len,
    char request_id[GRAPH_REQUEST_ID_MAX], struct graph_err *);
/* A catalog's {"id","name"}: the name. */
int graph_parse_catalog(const char *body, size_t len, char name[201],
    struct graph_err *);

/* --- The health monitor's reads (graph_health.c) ------------------------ */

#define GRAPH_HEALTH_ERRORS 8    /* health_status errors kept */
#define GRAPH_URL_MAX       1025 /* a callback URL, with NUL */

/* One error of health_status.entities[] (Meta, "Health Status"). */
struct graph_health_error {
	char entity[33]; /* entity_type: PHONE_NUMBER, WABA, BUSINESS, APP */
	long code;       /* error_code */
	char description[301];
	char solution[301]; /* possible_solution */
};

/*
 * A number as the monitor reads it: the phone number node's own fields
 * (graph_phone), its messaging limit (whatsapp_business_manager_
 * messaging_limit, which replaces the deprecated messaging_limit_tier),
 * throughput.level, health_status (can_send_message AVAILABLE, LIMITED
 * or BLOCKED, "" when Meta sent none, and the entities' errors) and
 * webhook_configuration: the callback URLs set on the number, its WABA
 * and the app, the first of which Meta calls (Meta, "Webhook
 * overrides").
 */
struct graph_phone_health {
	struct graph_phone        phone;
	char                      messaging_limit[33];
	char                      throughput[33];
	char                      can_send[16];
	struct graph_health_error errors[GRAPH_HEALTH_ERRORS];
	size_t                    nerrors;
	int                       has_hooks; /* webhook_configuration given */
	char hook_phone[GRAPH_URL_MAX], hook_waba[GRAPH_URL_MAX],
	    hook_app[GRAPH_URL_MAX];
};

/* GET {phone}?fields=... with the health fields. */
int graph_parse_phone_health(const char *body, size_t len,
    struct graph_phone_health *, struct graph_err *);
/* The callback URL Meta uses for the number's messages: the number's
   override, else the WABA's, else the app's; "" when none is known. */
const char *graph_hook_effective(const struct graph_phone_health *);
/*
 * GET {waba}/subscribed_apps' {"data":[{"whatsapp_business_api_data":
 * {"id",...}},...]}: *subscribed 1 when app_id is one of them.
 */
int graph_parse_subscribed(const char *body, size_t len, const char *app_id,
    int *subscribed, struct graph_err *);

/*
 * The JSON body of a text message (Cloud API "Messages"), malloc'd
 * (free()), or NULL.
 */
char *graph_json_text_message(const char *to, const char *body);

/*
 * The JSON body of any message: msg (a checked client message object,
 * message.h) with messaging_product "whatsapp" and without "from";
 * malloc'd (free()), or NULL.
 */
struct json_object;
char *graph_json_message(struct json_object *msg);

/* --- Calls --------------------------------------------------------------- */

/*
 * token: the user/business access token in plain text (the caller
 * decrypts it from the vault and wipes it after). Every call sends its
 * token in an "Authorization: Bearer" header, never in the URL, and the
 * appsecret_proof computed from that token in the query (a proof is no
 * secret: it is worthless without the token). URLs end up in proxies'
 * and servers' logs; headers and bodies do not.
 * Transient failures are retried up to max_retries times with full-jitter
 * exponential backoff (250 ms doubling, at most 4 s); other 4xx never
 * are. Every attempt and backoff stays within the request's budget
 * (graph_budget_start): an attempt gets min(timeout_ms, what is left),
 * and no retry starts that the budget cannot hold. The code exchange,
 * fb_exchange_token, register and sending a message are not idempotent
 * (a code is spent by its first use, a token exchange or a registration
 * may have happened, a message would go out twice), so they retry only
 * failures that prove Meta did not act: a request that never left us
 * (no connection, nothing written), or an answer with err.rejected set.
 * A bare 5xx, an HTML page or a timeout after sending is reported with
 * err.maybe_done, never repeated. A request's first call passes the
 * pool's bulkhead and circuit breaker (meta_gate.h, graph_budget_end):
 * when either refuses, it fails at once with err.unavailable and Meta is
 * not called. Each returns 0, or -1 with err filled.
 */

/* POST /{ver}/oauth/access_token, form body client_id, client_secret,
   redirect_uri, code. No appsecret_proof: there is no token yet,
   client_secret authenticates. redirect_uri NULL: a code from the JS
   SDK's FB.login (the Embedded Signup popup), which no redirect made,
   is exchanged without one (Embedded Signup, "Exchange the token code
   for a business token"). */
int graph_exchange_code(struct graph *, const char *code,
    const char *redirect_uri, struct buf *token_out, long *expires_in,
    struct graph_err *);
/* POST /{ver}/oauth/access_token, form body grant_type=fb_exchange_token,
   client_id, client_secret, fb_exchange_token: a long-lived token for a
   short one. */
int graph_exchange_long_lived(struct graph *, const char *short_token,
    struct buf *token_out, long *expires_in, struct graph_err *);
/* GET /{ver}/debug_token?input_token=TOKEN with the app token
   (APPID|APPSECRET) as the Bearer token. input_token stays in the query:
   Meta documents debug_token as a GET with that parameter only. */
int graph_debug_token(struct graph *, const char *token,
    struct graph_token_info *, struct graph_err *);
/* GET /{ver}/{waba_id}/phone_numbers, following cursors (at most
   GRAPH_PHONE_PAGES pages, GRAPH_PHONES_MAX numbers). *list is malloc'd
   (free()), NULL when there are none. */
int graph_phone_numbers(struct graph *, const char *token, const char *waba_id,
    struct graph_phone **list, size_t *n, struct graph_err *);
/* GET /{ver}/{phone_id}?fields=... */
int graph_phone(struct graph *, const char *token, const char *phone_id,
    struct graph_phone *, struct graph_err *);
/* POST /{ver}/{phone_id}/register, messaging_product=whatsapp&pin=PIN. */
int graph_register(struct graph *, const char *token, const char *phone_id,
    const char *pin, struct graph_err *);
/* POST /{ver}/{phone_id}/request_code: code_method SMS or VOICE. */
int graph_request_code(struct graph *, const char *token, const char *phone_id,
    const char *method, const char *language, struct graph_err *);
/* POST /{ver}/{phone_id}/verify_code with the code Meta sent. */
int graph_verify_code(struct graph *, const char *token, const char *phone_id,
    const char *code, struct graph_err *);
/* POST /{ver}/{phone_id} with pin: sets the two-step verification PIN. */
int graph_set_pin(struct graph *, const char *token, const char *phone_id,
    const char *pin, struct graph_err *);
/* POST /{ver}/{phone_id}/deregister. */
int graph_deregister(struct graph *, const char *token, const char *phone_id,
    struct graph_err *);
/* POST /{ver}/{waba_id}/subscribed_apps. */
int graph_subscribe(struct graph *, const char *token, const char *waba_id,
    struct graph_err *);
/* POST /{ver}/{phone_id}/messages: one text message; the wamid out. */
int graph_send_text(struct graph *, const char *token, const char *phone_id,
    const char *to, const char *body, char message_id[256], struct graph_err *);
/*
 * POST /{ver}/{phone_id}/messages with any message object (the internal
 * API's POST /messages): the body is graph_json_message(msg). Never
 * repeated unless Meta's answer proves it did not act (as every send).
 */
int graph_send_message(struct graph *, const char *token, const char *phone_id,
    struct json_object *msg, struct graph_sent *, struct graph_err *);
/*
 * POST /{ver}/{phone_id}/smb_app_data, messaging_product=whatsapp and
 * sync_type (smb_app_state_sync: the WhatsApp Business app's contacts;
 * history: its chats): starts a coexistence number's one-time sync,
 * whose data arrives later as webhooks. Meta runs each sync_type once
 * per number, so the call is never repeated blindly; request_id out.
 */
int graph_smb_app_data(struct graph *, const char *token, const char *phone_id,
    const char *sync_type, char request_id[GRAPH_REQUEST_ID_MAX],
    struct graph_err *);
/* GET /{ver}/{phone_id}?fields=... with health_status, the messaging
   limit, throughput and webhook_configuration (graph_health.c). */
int graph_phone_health(struct graph *, const char *token, const char *phone_id,
    struct graph_phone_health *, struct graph_err *);
/* GET /{ver}/{waba_id}/subscribed_apps: is [meta] app_id subscribed? */
int graph_subscribed_apps(struct graph *, const char *token,
    const char *waba_id, int *subscribed, struct graph_err *);
/* GET /{ver}/{catalog_id}?fields=id,name: the catalog's name. */
int graph_catalog(struct graph *, const char *token, const char *catalog_id,
    char name[201], struct graph_err *);

/* --- Catalog Batch API (graph_catalog.c) ------------------------------- */

struct json_object;
/*
 * items_batch's answer: 0 with *out a new {"handles":[strings],
 * "validation_status":[...] when Meta gave one} (json_object_put it),
 * or -1 with err->bad_response.
 */
int graph_parse_items_batch(const char *body, size_t len,
    struct json_object **out, struct graph_err *);
/*
 * check_batch_request_status's {"data":[status]}: 0 with *out the
 * status object as Meta shaped it (a reference: json_object_put it), or
 * NULL when data is empty; -1 when there is no data array or its
 * element has no string status.
 */
int graph_parse_batch_status(const char *body, size_t len,
    struct json_object **out, struct graph_err *);
/*
 * POST /{ver}/{catalog_id}/items_batch with body (catbatch_body's JSON)
 * and the catalog's own token: *answer as graph_parse_items_batch. Not
 * idempotent: never repeated unless Meta says it did not act.
 */
int graph_items_batch(struct graph *, const char *token, const char *catalog_id,
    const char *body, struct json_object **answer, struct graph_err *);
/*
 * GET /{ver}/{catalog_id}/check_batch_request_status?handle=H
 * &load_ids_of_invalid_requests=true: *status as
 * graph_parse_batch_status.
 */
int graph_batch_status(struct graph *, const char *token,
    const char *catalog_id, const char *handle, struct json_object **status,
    struct graph_err *);
/* --- Media uploads (graph_media.c) ------------------------------------- */

#define GRAPH_MEDIA_ID_MAX  65   /* a Cloud API media id + NUL */
#define GRAPH_UPLOAD_ID_MAX 1024 /* "upload:...?sig=..." + NUL */
#define GRAPH_HANDLE_MAX    2048 /* a Resumable Upload handle + NUL */

/*
 * 1 when id is a Resumable Upload session id as Meta gives them:
 * "upload:" and base64, optionally "?sig=" and base64 (Graph API,
 * Resumable Upload API); nothing else is ever put in a path.
 */
int graph_upload_id_ok(const char *id);
/*
 * POST /{ver}/{phone_id}/media as multipart/form-data (Cloud API, Media):
 * messaging_product=whatsapp, type, and the file part (file_name, type,
 * the len bytes at data, sent from there without a copy). media_id out.
 * Not idempotent: never repeated blindly.
 */
int graph_media_upload(struct graph *, const char *token, const char *phone_id,
    const char *type, const char *file_name, const void *data, size_t len,
    char media_id[GRAPH_MEDIA_ID_MAX], struct graph_err *);
/*
 * POST /{ver}/{app_id}/uploads?file_name=&file_length=&file_type=: a
 * Resumable Upload session for the app (its id out). Not idempotent.
 */
int graph_upload_session(struct graph *, const char *token,
    const char *file_name, size_t len, const char *type,
    char upload_id[GRAPH_UPLOAD_ID_MAX], struct graph_err *);
/*
 * POST /{ver}/{upload_id} with "Authorization: OAuth" and "file_offset:
 * offset", the bytes data[offset..len) as the body: the file's handle
 * ("h") out. Not repeated blindly; after a failure that may have
 * reached Meta, graph_upload_offset says where to resume.
 */
int graph_upload_data(struct graph *, const char *token, const char *upload_id,
    const char *type, const void *data, size_t len, size_t offset, char *handle,
    size_t handle_size, struct graph_err *);
/* GET /{ver}/{upload_id}: the session's file_offset (bytes Meta has). */
int graph_upload_offset(struct graph *, const char *token,
    const char *upload_id, size_t *offset, struct graph_err *);
/* --- Message templates (graph_templates.c) ------------------------------ */

/*
 * WhatsApp Business Management API, "Message Templates" (the
 * message_templates edge of a WhatsApp Business Account). The WABA id
 * is always the connection's own; no caller passes one it was sent.
 */
#define GRAPH_TEMPLATE_FIELDS \
	"id,name,language,status,category,components,quality_score," \
	"rejected_reason,parameter_format"

struct json_object;

/* One page's filters; NULL or 0 for what is not asked. */
struct graph_tpl_query {
	const char *status; /* APPROVED, PENDING, REJECTED, ... */
	const char *name;
	const char *after; /* paging.cursors.after of the page before */
	unsigned    limit; /* 0: Meta's default */
};

/* POST's answer. */
struct graph_tpl_created {
	char id[33];
	char status[33];
	char category[33];
};

/*
 * One page of {"data":[templates],"paging":{...}}: *templates a new
 * JSON array (json_object_put it) of Meta's template objects, each with
 * only the members of GRAPH_TEMPLATE_FIELDS, id, name, language, status
 * and category checked as strings; next the next page's cursor
 * (GRAPH_CURSOR_MAX bytes), "" on the last page (no paging.next).
 */
int graph_parse_templates(const char *body, size_t len,
    struct json_object **templates, char next[GRAPH_CURSOR_MAX],
    struct graph_err *);
/* The create answer {"id","status","category"}. */
int graph_parse_template_created(const char *body, size_t len,
    struct graph_tpl_created *, struct graph_err *);
/* GET /{ver}/{waba_id}/message_templates?fields=GRAPH_TEMPLATE_FIELDS
   and q's filters: one page, as graph_parse_templates. Idempotent. */
int graph_templates(struct graph *, const char *token, const char *waba_id,
    const struct graph_tpl_query *q, struct json_object **templates,
    char next[GRAPH_CURSOR_MAX], struct graph_err *);
/* POST /{ver}/{waba_id}/message_templates with json (msgtpl_json's
   body). Not idempotent: a repeat after an unknown outcome could make
   the template twice (or fail as a duplicate of itself). */
int graph_template_create(struct graph *, const char *token,
    const char *waba_id, const char *json, struct graph_tpl_created *,
    struct graph_err *);
/* DELETE /{ver}/{waba_id}/message_templates?name=NAME[&hsm_id=ID]:
   every language of name, or only the one whose id is hsm_id. Never
   repeated blindly either: a second delete of a done one fails. */
int graph_template_delete(struct graph *, const char *token,
    const char *waba_id, const char *name, const char *hsm_id,
    struct graph_err *);

#endif
