/*
 * graph: the Graph API handle and transport: the request budget, one
 * HTTP exchange, the retries (the model is in graph.h; the endpoints are
 * graph_calls.c, the JSON is read by graph_parse.c).
 *
 * One curl easy handle per worker, reset between calls but never
 * cleaned up, so libcurl keeps the connection and the TLS session to
 * Meta alive for the next request. URLs are only built with curl's URL
 * API. Buffers that carry a token, the app secret, a code or a PIN (URLs,
 * request bodies, Authorization header lines and their curl_slist
 * copies, access_token answers) are wiped before they are freed; the
 * copies libcurl makes internally are beyond our reach.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "graph.h"
#include "graph_int.h"
#include "log.h"
#include "meta_gate.h"
#include "metrics.h"

#define GRAPH_USER_AGENT "waba-connect/0.1"
/* Backoff: full jitter over 250 ms * 2^attempt, at most 4 s ("Exponential
   Backoff And Jitter", AWS Architecture Blog; Meta: "wait and retry"). */
#define GRAPH_BACKOFF_BASE_MS 250
#define GRAPH_BACKOFF_CAP_MS  4000
/* Our answers are small; this much room up front means an access_token
   answer never moves (realloc would leave a copy of the token behind). */
#define GRAPH_RESP_PRIME 16384

static const char graph_zeros[GRAPH_RESP_PRIME];

/* Response body collector: stops at GRAPH_MAX_BODY. */
struct graph_sink {
	struct buf *b;
	int         too_big;
};

/* Response headers: only Meta's trace id is kept. */
struct graph_hdrs {
	char trace[64];
};

/* What is left of the request's budget: -1 none set, else >= 0. */
static long
graph_remaining_ms(const struct graph *g)
{
	int64_t left;

	if (g->deadline_ms == 0)
		return -1;
	left = g->deadline_ms - clk_ms();
	return left > 0 ? (long)left : 0;
}

void
graph_budget_start(struct graph *g)
{
	if (g == NULL)
		return;
	gate_leave(&g->pass);
	g->deadline_ms = clk_ms() + g->budget_ms;
}

void
graph_set_background(struct graph *g)
{
	g->gate.no_slot = 1;
}

void
graph_budget_end(struct graph *g)
{
	if (g != NULL)
		gate_leave(&g->pass);
}

long
graph_attempt_timeout_ms(long timeout_ms, long remaining_ms)
{
	if (remaining_ms < 0)
		return timeout_ms;
	return remaining_ms < timeout_ms ? remaining_ms : timeout_ms;
}

int
graph_retry_fits(long backoff_ms, long remaining_ms)
{
	if (remaining_ms < 0)
		return 1;
	return backoff_ms + GRAPH_MIN_ATTEMPT_MS <= remaining_ms;
}

int
graph_trace_header(const char *line, size_t len, char *out, size_t size)
{
	static const char name[] = "x-fb-trace-id:";
	size_t            i, n;

	if (len < sizeof(name) - 1 ||
	    strncasecmp(line, name, sizeof(name) - 1) != 0)
		return 0;
	for (i = sizeof(name) - 1;
	     i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (n = 0; i + n < len && line[i + n] != '\r' && line[i + n] != '\n';
	     n++)
		if (strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "0123456789_/+=-",
		        line[i + n]) == NULL ||
		    line[i + n] == '\0')
			return 0;
	if (n == 0 || n >= size)
		return 0;
	memcpy(out, line + i, n);
	out[n] = '\0';
	return 1;
}

/*
 * doc/contract.md, Configuration keys: https, or plain http only where the
 * traffic cannot leave the host. config.c checks this too; a handle must
 * not rely on it.
 */
static int
graph_base_ok(const char *base)
{
	CURLU *u;
	char  *scheme = NULL;
	int    ok = 0;

	if (base == NULL || (u = curl_url()) == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
		ok = strcmp(scheme, "https") == 0 ||
		    (strcmp(scheme, "http") == 0 &&
		        config_url_is_loopback(base));
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

struct graph *
graph_new(const struct config *cfg)
{
	struct graph *g;

	if (sodium_init() < 0)
		return NULL;
	if (!graph_base_ok(cfg->graph_base_url)) {
		log_err("graph: [meta] graph_base_url must be https:// "
		        "(http:// only for loopback)");
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->connect_timeout_ms = cfg->connect_timeout_ms;
	g->timeout_ms = cfg->timeout_ms;
	g->max_retries = cfg->max_retries < 0 ? 0 : cfg->max_retries;
	g->budget_ms = cfg->request_budget_ms > 0 ? cfg->request_budget_ms
	                                          : 30000;
	g->gate.max_calls = cfg->max_concurrent_calls;
	g->gate.breaker_failures = cfg->breaker_failures > 0
	    ? cfg->breaker_failures
	    : 5;
	g->gate.breaker_seconds = cfg->breaker_seconds > 0
	    ? cfg->breaker_seconds
	    : 30;
	/* A probe outlives no page: past the budget its process is gone
	   or has given up. */
	g->gate.probe_ms = g->budget_ms + 1000;
	if (cfg->graph_version == NULL || cfg->app_id == NULL ||
	    cfg->app_secret == NULL ||
	    (g->base = strdup(cfg->graph_base_url)) == NULL ||
	    (g->version = strdup(cfg->graph_version)) == NULL ||
	    (g->app_id = strdup(cfg->app_id)) == NULL ||
	    (g->app_secret = strdup(cfg->app_secret)) == NULL ||
	    (cfg->ca_file != NULL &&
	        (g->ca_file = strdup(cfg->ca_file)) == NULL) ||
	    (g->curl = curl_easy_init()) == NULL) {
		log_err("graph: out of memory");
		graph_free(g);
		return NULL;
	}
	/* NULL (a base the URL API refuses): each call says so, as before. */
	g->url_prefix = graph_url_prefix(g->base, g->version);
	return g;
}

void
graph_free(struct graph *g)
{
	if (g == NULL)
		return;
	gate_leave(&g->pass);
	if (g->curl != NULL)
		curl_easy_cleanup(g->curl);
	free(g->base);
	free(g->version);
	free(g->url_prefix);
	free(g->app_id);
	if (g->app_secret != NULL) {
		sodium_memzero(g->app_secret, strlen(g->app_secret));
		free(g->app_secret);
	}
	free(g->ca_file);
	free(g);
}

/* curl_slist_append copies each line: wipe those copies, then free. */
static void
graph_slist_free_secret(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p != NULL; p = p->next)
		if (p->data != NULL)
			sodium_memzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static size_t
graph_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct graph_sink *s = arg;
	size_t             n = size * nmemb;

	if (n > GRAPH_MAX_BODY - s->b->len) {
		s->too_big = 1;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (buf_append(s->b, data, n) == -1)
		return 0;
	return n;
}

static size_t
graph_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct graph_hdrs *h = arg;
	size_t             n = size * nmemb;

	graph_trace_header(data, n, h->trace, sizeof(h->trace));
	return n;
}

/* A multipart body's part, read in place (curl_mime_data_cb). */
struct graph_src {
	const char *p;
	size_t      len, pos;
};

#define GRAPH_MAX_PARTS 4

static size_t
graph_src_read(char *out, size_t size, size_t nitems, void *arg)
{
	struct graph_src *s = arg;
	size_t            n = size * nitems;

	if (n > s->len - s->pos)
		n = s->len - s->pos;
	memcpy(out, s->p + s->pos, n);
	s->pos += n;
	return n;
}

/* curl rewinds a part when it sends the body again (a reused
   connection that turned out closed). */
static int
graph_src_seek(void *arg, curl_off_t off, int origin)
{
	struct graph_src *s = arg;

	if (origin != SEEK_SET || off < 0 || (size_t)off > s->len)
		return CURL_SEEKFUNC_CANTSEEK;
	s->pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/*
 * r's parts as curl's mime structure on handle c; NULL when out of
 * memory. The file's bytes are not copied: curl reads them through
 * src[] while it sends.
 */
static curl_mime *
graph_mime(CURL *c, const struct graph_req *r, struct graph_src *src)
{
	curl_mime     *m;
	curl_mimepart *part;
	size_t         i;

	if (r->nparts > GRAPH_MAX_PARTS || (m = curl_mime_init(c)) == NULL)
		return NULL;
	for (i = 0; i < r->nparts; i++) {
		src[i].p = r->parts[i].data;
		src[i].len = r->parts[i].len;
		src[i].pos = 0;
		if ((part = curl_mime_addpart(m)) == NULL ||
		    curl_mime_name(part, r->parts[i].name) != CURLE_OK ||
		    curl_mime_data_cb(part, (curl_off_t)src[i].len,
		        graph_src_read, graph_src_seek, NULL,
		        &src[i]) != CURLE_OK ||
		    (r->parts[i].filename != NULL &&
		        curl_mime_filename(part, r->parts[i].filename) !=
		            CURLE_OK) ||
		    (r->parts[i].type != NULL &&
		        curl_mime_type(part, r->parts[i].type) != CURLE_OK)) {
			curl_mime_free(m);
			return NULL;
		}
	}
	return m;
}

/*
 * Transport failures into err. unsent is set when the request cannot
 * have reached Meta (no connection was made), the only failures a call
 * that is not idempotent may repeat.
 */
static void
graph_transport_err(CURLcode cc, const struct graph_sink *sink,
    const char *errbuf, struct graph_err *err, int *unsent)
{
	const char *why = *errbuf != '\0' ? errbuf : curl_easy_strerror(cc);

	*unsent = 0;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		err->timeout = err->transient = 1;
		snprintf(err->message, sizeof(err->message),
		    "Meta did not "
		    "answer in time (%s)",
		    why);
		return;
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
		err->bad_response = 1;
		snprintf(err->message, sizeof(err->message), "Meta's answer %s",
		    sink->too_big || cc == CURLE_FILESIZE_EXCEEDED
		        ? "is larger than 4 MiB"
		        : "could not be stored");
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		*unsent = 1;
		err->transient = 1;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		/*
		 * The peer is not who graph_base_url names (untrusted CA,
		 * wrong host name, expired) or ca_file is unusable: nothing
		 * was sent (the handshake comes first). Configuration or an
		 * impostor: asking again won't help. curl's text names the
		 * certificate problem and the host, never the URL's query.
		 */
		err->network = err->tls = 1;
		snprintf(err->message, sizeof(err->message),
		    "Meta's TLS "
		    "certificate was not accepted (%s)",
		    why);
		return;
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* Configuration: asking again won't help. */
		break;
	default:
		err->transient = 1;
		break;
	}
	err->network = 1;
	snprintf(err->message, sizeof(err->message),
	    "could not reach Meta "
	    "(%s)",
	    why);
}

/*
 * One HTTP exchange on the reused handle. 0 when Meta answered (status
 * in err->http_status, body in resp), -1 with err filled otherwise.
 */
int
graph_send_once(void *clientp, char *primary_ip, char *local_ip,
    int primary_port, int local_port)
{
	int *sent = clientp;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	return ++*sent > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

static int
graph_perform(struct graph *g, const struct graph_req *r, const char *url,
    long timeout_ms, struct buf *resp, struct graph_hdrs *h,
    struct graph_err *err, int *unsent)
{
	CURL              *c = g->curl;
	struct curl_slist *hdrs = NULL, *l;
	struct graph_sink  sink = { resp, 0 };
	struct graph_src   src[GRAPH_MAX_PARTS];
	curl_mime         *mime = NULL;
	const char *const *x;
	char               errbuf[CURL_ERROR_SIZE], ctype[128], *auth = NULL;
	CURLcode           cc;
	long               reqsize = -1;
	int                rc = -1, sent = 0;

	errbuf[0] = '\0';
	h->trace[0] = '\0';
	*unsent = 0;
	curl_easy_reset(c);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    g->connect_timeout_ms < timeout_ms ? g->connect_timeout_ms
	                                       : timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (g->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, g->ca_file);
	curl_easy_setopt(c, CURLOPT_USERAGENT, GRAPH_USER_AGENT);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)GRAPH_MAX_BODY);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, graph_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, graph_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	/*
	 * A call that is not idempotent counts the requests libcurl makes
	 * (it resends on a fresh connection when a reused one closes
	 * unanswered) and stops the second. configure requires libcurl
	 * 7.80 for this; a library that refuses it anyway leaves the count
	 * unknown, and then no failure is taken as proof of "not sent".
	 */
	if (!r->idempotent &&
	    (curl_easy_setopt(c, CURLOPT_PREREQDATA, &sent) != CURLE_OK ||
	        curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, graph_send_once) !=
	            CURLE_OK))
		sent = -1;
	/*
	 * The token travels in a header, not in the URL: query strings are
	 * written to proxies' and servers' access logs (Graph accepts
	 * "Authorization: Bearer" on every call; WhatsApp Cloud API's
	 * examples use it).
	 */
	if (r->token != NULL) {
		if ((auth = graph_auth_header(r->auth ? r->auth : "Bearer",
		         r->token)) == NULL) {
			snprintf(err->message, sizeof(err->message),
			    "the "
			    "access token has unexpected characters");
			g->last = CURLE_BAD_FUNCTION_ARGUMENT;
			goto out;
		}
		if ((l = curl_slist_append(hdrs, auth)) == NULL)
			goto oom;
		hdrs = l;
	}
	for (x = r->headers; x != NULL && *x != NULL; x++) {
		if ((l = curl_slist_append(hdrs, *x)) == NULL)
			goto oom;
		hdrs = l;
	}
	if (r->nparts > 0) {
		/* curl writes the multipart Content-Type and boundary. */
		if ((mime = graph_mime(c, r, src)) == NULL ||
		    (l = curl_slist_append(hdrs, "Expect:")) == NULL)
			goto oom;
		hdrs = l;
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	} else if (r->ctype != NULL) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", r->ctype);
		/* No "Expect: 100-continue" round trip on larger bodies. */
		if ((l = curl_slist_append(hdrs, ctype)) == NULL)
			goto oom;
		hdrs = l;
		if (curl_slist_append(hdrs, "Expect:") == NULL)
			goto oom;
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->bodylen);
	}
	if (r->method == GRAPH_DELETE)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	if (hdrs != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if ((g->last = cc = curl_easy_perform(c)) != CURLE_OK) {
		graph_transport_err(cc, &sink, errbuf, err, unsent);
		/*
		 * A timeout or a reset before a single request byte was
		 * written (still connecting, or in the TLS handshake) cannot
		 * have reached Meta either.
		 */
		if (curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &reqsize) ==
		        CURLE_OK &&
		    reqsize == 0)
			*unsent = 1;
		if (!r->idempotent && sent == 0)
			*unsent = 1; /* no connection was ever ready to send */
		if (!r->idempotent && sent != 0) {
			/*
			 * A request left (or we cannot tell): a failure after
			 * it (libcurl's resend finding no connection, say)
			 * does not prove Meta did nothing with the first.
			 */
			*unsent = 0;
		}
		if (sent > 1) {
			/* The first request left: whatever the second did. */
			*unsent = 0;
			err->transient = 0;
			snprintf(err->message, sizeof(err->message), "%s",
			    GRAPH_SENT_ONCE_MESSAGE);
		}
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &err->http_status);
	rc = 0;
	goto out;
oom:
	g->last = CURLE_OUT_OF_MEMORY;
	snprintf(err->message, sizeof(err->message), "out of memory");
out:
	/* The handle must not point at our stack, our headers or the
	   caller's body after. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, NULL);
	curl_easy_setopt(c, CURLOPT_PREREQDATA, NULL);
	curl_mime_free(mime);
	graph_slist_free_secret(hdrs);
	graph_secret_free(auth);
	return rc;
}

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
static uint32_t
graph_backoff_ms(int attempt)
{
	uint32_t cap = GRAPH_BACKOFF_CAP_MS;

	if (attempt < 5 && (GRAPH_BACKOFF_BASE_MS << attempt) < (int)cap)
		cap = (uint32_t)(GRAPH_BACKOFF_BASE_MS << attempt);
	return randombytes_uniform(cap + 1);
}

static void
graph_sleep_ms(uint32_t ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* One attempt's outcome, as /metrics counts it (metrics.h). */
static const char *
graph_outcome(int answered, const struct graph_err *err)
{
	if (answered && err->http_status >= 200 && err->http_status < 300)
		return "ok";
	if (answered)
		return err->http_status >= 500 ? "http_5xx" : "graph_error";
	if (err->timeout)
		return "timeout";
	return err->tls ? "tls" : "network";
}

const char *
graph_outcome_of(int curl_code, long http_status)
{
	struct graph_sink sink = { NULL, 0 };
	struct graph_err  err;
	int               unsent;

	memset(&err, 0, sizeof(err));
	if ((CURLcode)curl_code == CURLE_OK && http_status != 0) {
		err.http_status = http_status;
		return graph_outcome(1, &err);
	}
	graph_transport_err((CURLcode)curl_code, &sink, "", &err, &unsent);
	return graph_outcome(0, &err);
}

/*
 * Runs a call with its retries. 0 with a 2xx body in resp, which the
 * caller parses (a bad one is not retried) and then wipes with
 * buf_free_secret: some answers hold tokens, none need to outlive the
 * parse. -1 with err filled and resp already wiped.
 */
int
graph_do(struct graph *g, const struct graph_req *r, struct buf *resp,
    struct graph_err *err)
{
	struct graph_hdrs h;
	enum gate_rc      gr;
	char             *url;
	const char       *why;
	long              tmo, wait_s;
	uint32_t          backoff = 0;
	int               attempt, answered, unsent, retry, graph_obj, rc = -1;

	buf_init(resp);
	memset(err, 0, sizeof(*err));
	if ((r->params != NULL ||
	        (url = graph_url_join(g->url_prefix, r->path)) == NULL) &&
	    (url = graph_build_url(g->base, g->version, r->path, r->params)) ==
	        NULL) {
		snprintf(err->message, sizeof(err->message),
		    "cannot build the "
		    "Graph URL for %s (an id with unexpected characters?)",
		    r->endpoint);
		return -1;
	}
	/*
	 * Not one worker more than the bulkhead allows waits on Meta, and
	 * none while the breaker is open: the others keep serving pages
	 * and webhooks. A refusal is immediate; nothing was sent. The
	 * slot is the request's (graph_budget_end).
	 */
	if (!g->pass.active &&
	    (gr = gate_enter(&g->gate, r->endpoint, &g->pass, &wait_s)) !=
	        GATE_OK) {
		err->unavailable = 1;
		err->retry_after = wait_s;
		snprintf(err->message, sizeof(err->message), "%s",
		    gr == GATE_BUSY
		        ? "too many calls to Meta are waiting for "
		          "an answer"
		        : "Meta failed repeatedly; calls are paused "
		          "(circuit breaker open)");
		log_info("graph %s: not called: %s, fbtrace_id -", r->endpoint,
		    err->message);
		metrics_graph(r->endpoint,
		    gr == GATE_BUSY ? "busy" : "breaker_open");
		sodium_memzero(url, strlen(url));
		free(url);
		return -1;
	}
	/* Room up front, so a token in the answer is never realloc'd. */
	if (buf_append(resp, graph_zeros, sizeof(graph_zeros)) == -1) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		goto out;
	}
	for (attempt = 0;; attempt++) {
		buf_reset(resp);
		memset(err, 0, sizeof(*err));
		if ((tmo = graph_attempt_timeout_ms(g->timeout_ms,
		         graph_remaining_ms(g))) == 0) {
			err->timeout = 1;
			snprintf(err->message, sizeof(err->message),
			    "the time "
			    "this page may spend on Meta ran out");
			log_warn("graph %s: request budget spent, not called, "
			         "fbtrace_id -",
			    r->endpoint);
			metrics_graph(r->endpoint, "budget");
			break;
		}
		answered = graph_perform(g, r, url, tmo, resp, &h, err,
		               &unsent) == 0;
		metrics_graph(r->endpoint, graph_outcome(answered, err));
		gate_report(&g->gate, r->endpoint, &g->pass,
		    (answered && err->http_status < 500) ? GATE_UP
		        : ((answered && err->http_status >= 500) ||
		              err->timeout)
		        ? GATE_DOWN
		        : GATE_NEUTRAL);
		if (answered && err->http_status >= 200 &&
		    err->http_status < 300) {
			/* A 2xx body can still be unreadable: the parser's
			   error keeps this reference for the log and page. */
			memcpy(err->fbtrace_id, h.trace, sizeof(h.trace));
			log_debug("graph %s: HTTP %ld", r->endpoint,
			    err->http_status);
			rc = 0;
			break;
		}
		graph_obj = 0;
		if (answered) {
			graph_obj = graph_error_parse(err->http_status,
			                buf_str(resp), resp->len, err) == 0;
			/* HTML error pages from Meta's edge carry only the
			   header. */
			if (err->fbtrace_id[0] == '\0')
				memcpy(err->fbtrace_id, h.trace,
				    sizeof(h.trace));
		}
		/*
		 * A call that is not idempotent is repeated only when Meta
		 * provably did not act: nothing left us, or Meta's answer
		 * says it turned the call away. Otherwise (a bare 5xx from
		 * an edge proxy, an HTML page, a timeout with the request
		 * sent) it may have been done: say so, never do it twice.
		 * A 4xx Graph error is Meta's own refusal: not done.
		 */
		if (!r->idempotent && !unsent && !err->rejected &&
		    ((answered && (err->http_status >= 500 || !graph_obj)) ||
		        err->timeout || err->network))
			err->maybe_done = 1;
		retry = err->transient && attempt < g->max_retries &&
		    (r->idempotent || unsent || err->rejected);
		why = retry ? ", retrying" : "";
		if (retry && !gate_may_retry(&g->pass)) {
			retry = 0;
			why = ", circuit breaker open, not retrying";
		}
		if (retry) {
			backoff = graph_backoff_ms(attempt);
			if (!graph_retry_fits(backoff, graph_remaining_ms(g))) {
				retry = 0;
				why = ", no time left to retry";
			}
		}
		if (answered)
			log_warn("graph %s: HTTP %ld, code %ld/%ld, fbtrace_id "
			         "%s%s",
			    r->endpoint, err->http_status, err->code,
			    err->subcode, graph_err_trace(err), why);
		else if (err->tls)
			/* The operator needs the certificate problem and the
			   host it was checked against; curl's text for a
			   failed verification holds no URL or secret. */
			log_warn("graph %s: %s, fbtrace_id -%s", r->endpoint,
			    err->message, why);
		else
			/* curl's own text, never its error buffer: that may
			   quote more than we want in a log. */
			log_warn("graph %s: %s, fbtrace_id -%s", r->endpoint,
			    curl_easy_strerror(g->last), why);
		if (!retry)
			break;
		graph_sleep_ms(backoff);
	}
out:
	sodium_memzero(url, strlen(url));
	free(url);
	if (rc == -1)
		buf_free_secret(resp);
	return rc;
}
