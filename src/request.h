/*
 * request: FastCGI parameters and body -> a typed, validated struct req.
 * Everything the network sends is checked here, once: strict
 * percent-decoding, UTF-8, no NULs, bounded sizes, no duplicate keys.
 * Handlers read the result and never parse raw strings themselves.
 */
#ifndef WABA_REQUEST_H
#define WABA_REQUEST_H

#include <stddef.h>

#include "buf.h"

struct FCGX_Request;

#define REQ_MAX_PAIRS 64 /* fields in a query string or form */
#define REQ_MAX_KEY   64
#define REQ_MAX_QUERY 8192
#define REQ_MAX_PATH  2048
#define REQ_LOG_PATH  256 /* bytes of a refused path the log shows */
/*
 * Bytes of a route's variable segment: a message template's name
 * (DELETE .../templates/{name}) may be 512; Meta's catalog batch
 * handles (GET .../catalog/batches/{handle}) run past 100 characters
 * (the Catalog Batch API guide's sample handle is 110).
 */
#define REQ_VAR_MAX 512

enum req_method {
	REQ_GET = 1,
	REQ_HEAD = 2,
	REQ_POST = 4,
	REQ_DELETE = 8, /* the internal API's deletes */
	REQ_OTHER = 16
};

struct kv {
	char  *key;
	char  *val; /* NUL-terminated, valid UTF-8, no NUL inside */
	size_t len;
};

struct kvlist {
	struct kv *v;
	size_t     n;
};

struct req {
	struct FCGX_Request *fcgi;
	enum req_method      method;
	char                 method_str[12];
	/*
	 * Decoded, below the mount point. When req_init refuses the
	 * request, the raw path as sent (at most REQ_LOG_PATH bytes and
	 * "..."), only for the access line.
	 */
	char         *path;
	struct kvlist query;
	struct kvlist form; /* urlencoded POST bodies */
	struct kvlist cookies;
	struct buf    body; /* the exact bytes (webhook signatures) */
	size_t        content_length;
	char          remote_addr[64];
	char          slug[64]; /* the {slug} of the route, validated */
	/*
	 * The route's other variable segment, e.g. {phone_number_id}: its
	 * name and the segment as sent, which its declared IN_PATH field
	 * checks (router.c only bounds the length, REQ_VAR_MAX).
	 */
	struct req_var {
		char name[32];
		char value[REQ_VAR_MAX + 1];
	} var;
	long long start_us;
};

/*
 * Why a request was refused: the parsers below name the failure, the
 * caller (app.c) picks the status and the page. why says which field or
 * header, in words for the log and the error page.
 */
enum req_err {
	REQ_OK,
	REQ_TOO_LONG,     /* path or query string over its limit */
	REQ_BAD_ENCODING, /* not strict %XX of UTF-8; a NUL; a %2F */
	REQ_BAD_FIELDS,   /* a field unnamed, given twice, too many */
	REQ_BAD_LENGTH,   /* Content-Length is not a decimal number */
	REQ_TOO_LARGE,    /* the body is over the route's limit */
	REQ_CUT_SHORT,    /* the body ended before Content-Length */
	REQ_NOT_FORM,     /* a form route's body is not urlencoded */
	REQ_NOMEM         /* ours, not the client's */
};

/*
 * Reads the parameters (method, path below mount, query, cookies,
 * Content-Length). On a refusal r->path is still set when it can be
 * (the raw path, for the access line) and req_free() frees r.
 */
enum req_err req_init(struct req *, struct FCGX_Request *, const char *mount,
    char *why, size_t whylen);
/*
 * Reads the body, at most max bytes (else REQ_TOO_LARGE before reading
 * any of it), and parses it as a form when parse_form is set and the
 * body is not empty: then it must be application/x-www-form-urlencoded.
 */
enum req_err req_read_body(struct req *, size_t max, int parse_form, char *why,
    size_t whylen);
void         req_free(struct req *);
const char  *req_param(const struct req *, const char *fcgi_name);

/* Looks a key up; NULL when absent. */
const char *kv_get(const struct kvlist *, const char *key);
void        kv_free(struct kvlist *);

/*
 * Pure parsers, exported for the unit tests. req_parse_urlencoded
 * returns REQ_OK, or REQ_BAD_ENCODING, REQ_BAD_FIELDS or REQ_NOMEM with
 * a reason a person can read in why and the list emptied.
 */
enum req_err req_parse_urlencoded(const char *, size_t, struct kvlist *,
    char *why, size_t whylen);
void         req_parse_cookies(const char *, struct kvlist *);
/*
 * Decodes %XX (and '+' as space when plus is set) into out, checking
 * UTF-8: 0, or -1 (malformed or out of memory; callers refuse either).
 */
int req_percent_decode(const char *, size_t, int plus, struct buf *out);
/* 1 when the bytes are UTF-8 (RFC 3629) with no control but tab, CR, LF. */
int req_utf8_valid(const char *, size_t);
/*
 * The client address as sign-in throttling counts it: IPv4 as is (also
 * when IPv4-mapped), IPv6 as its /64 ("2001:db8:1:2::/64").
 */
void req_addr_key(const char *addr, char *out, size_t outlen);

#endif
