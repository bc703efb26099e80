/*
 * graph_int: what the Graph transport (graph.c) shares with the
 * per-endpoint calls (graph_calls.c): the handle, one call's description
 * and the retry loop. Not part of the public surface: only the graph
 * files include it; everyone else uses graph.h.
 */
#ifndef WABA_GRAPH_INT_H
#define WABA_GRAPH_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "meta_gate.h"

struct buf;
struct graph_err;

/* The handle, one per worker (graph_new). */
struct graph {
	CURL   *curl;
	char   *base; /* graph_base_url, no trailing slash */
	char   *version;
	char   *url_prefix; /* graph_url_prefix(base, version) */
	char   *app_id;
	char   *app_secret; /* wiped by graph_free */
	char   *ca_file;    /* NULL: the system's CAs */
	long    connect_timeout_ms;
	long    timeout_ms;
	int     max_retries;
	long    budget_ms;       /* [meta] request_budget_ms */
	int64_t deadline_ms;     /* monotonic; 0: no budget (admin tool) */
	struct gate_limits gate; /* bulkhead and breaker, [meta] */
	struct gate_pass   pass; /* this request's slot (graph_budget_end) */
	CURLcode           last; /* the last transfer's result, for the log */
};

/*
 * One part of a multipart/form-data body, sent with curl's mime API.
 * data is read where it lies (curl_mime_data_cb), never copied: it must
 * live until graph_do returns.
 */
struct graph_part {
	const char *name;
	const char *data;
	size_t      len;
	const char *filename; /* NULL: a plain field */
	const char *type;     /* the part's Content-Type; NULL: none */
};

/*
 * The HTTP method of a call. GET and POST follow from the body (a
 * ctype means POST); a DELETE says so, as Graph's deletes have no body
 * (the message_templates edge takes its name and hsm_id in the query).
 */
enum graph_method {
	GRAPH_BY_BODY, /* GET, or POST when ctype is set */
	GRAPH_DELETE
};

/* One call: what to send, and how it may be retried. */
struct graph_req {
	const char        *endpoint; /* for logs, never the URL */
	const char        *path;
	const char *const *params; /* query: key, value, ..., NULL */
	const char        *token;  /* Authorization: Bearer; NULL:
						   none (oauth/access_token) */
	const char        *ctype;  /* NULL: GET, else POST */
	const char        *body;
	size_t             bodylen;
	int                idempotent;
	/* The Authorization scheme: NULL "Bearer", or "OAuth". */
	const char *auth;
	/* More header lines ("file_offset: 0"), NULL-terminated; never a
	   secret: they are not wiped. */
	const char *const *headers;
	/* With nparts > 0: a POST of these as multipart/form-data (ctype
	   and body are not used). */
	const struct graph_part *parts;
	size_t                   nparts;
	enum graph_method        method; /* zero: by the body, as above */
};

/* Always -1, err saying why: a call that failed before the network. */
int graph_fail(struct graph_err *, const char *why);
/*
 * Runs a call with its retries within the budget. 0 with a 2xx body in
 * resp (the caller parses it, then wipes it with buf_free_secret); -1
 * with err filled and resp already wiped.
 */
int graph_do(struct graph *, const struct graph_req *, struct buf *resp,
    struct graph_err *);
/*
 * A whole 2xx body as one strict JSON value of bounded depth, parsed
 * without leaving copies of its strings behind (graph_parse.c); NULL
 * when it is not one. The caller puts it.
 */
struct json_object *graph_json_parse(const char *body, size_t len);

/*
 * The parsing helpers graph_parse.c shares with graph_health.c. Each
 * failing one sets err->bad_response and a message naming the field.
 */
struct json_object;
struct graph_phone;
/* Always -1. */
int gp_bad(struct graph_err *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Always -1: field is missing or not of the type want names. */
int gp_missing(struct graph_err *, const char *field, const char *want);
/* The root object of a 2xx body (the caller puts it), or NULL. */
struct json_object *gp_root(const char *body, size_t len, struct graph_err *);
/* An optional string member into dst ("" when absent or null). */
int gp_opt_copy(struct json_object *, const char *key, char *dst, size_t size,
    const char *field, struct graph_err *);
/* A number, or a string of digits; 0 otherwise. */
long gp_long_lenient(struct json_object *, const char *key);
/* One WhatsAppBusinessPhoneNumber node; where prefixes field names. */
int gp_phone(struct json_object *, struct graph_phone *, const char *where,
    struct graph_err *);

#endif
