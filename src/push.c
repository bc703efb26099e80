/*
 * push_*: the pusher's loop (push.h): which workspace to look at when,
 * one workspace's events read from its cursor and POSTed one by one in
 * order, and the signature. The bookkeeping is store/push.c's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "clock.h"
#include "config.h"
#include "db.h"
#include "evjson.h"
#include "log.h"
#include "meta_gate.h"
#include "push.h"
#include "store/events.h"
#include "store/push.h"
#include "store/workspaces.h"

#define PUSH_BATCH       100   /* events read at once, then the cursor moves */
#define PUSH_LEASE_S     30    /* a dead pusher's workspaces free again */
#define PUSH_LOOK_MS     3000  /* a look at every workspace anyway */
#define PUSH_LIST_MS     30000 /* the directory read again: new workspaces */
#define PUSH_TICK_MS     100
#define PUSH_MAX_BACKOFF 300 /* seconds: a receiver back is seen soon */
#define PUSH_TIMEOUT_MS  10000
#define PUSH_CONNECT_MS  3000

struct push_ws {
	struct workspace ws;
	long long        gen;     /* its events generation when last looked */
	long long        look_at; /* the next look, ms */
	uint64_t         seen;    /* the newest event id pushed or found */
};

struct push {
	const struct config *cfg;
	struct db           *db;
	CURL                *curl;
	char                 owner[128];
	struct push_ws      *ws;
	size_t               nws;
	long long            listed_at;
	char                 errbuf[CURL_ERROR_SIZE];
};

void
push_sign(const char *secret, const char *body, size_t len, char *out)
{
	crypto_auth_hmacsha256_state st;
	unsigned char                mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
	    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", 7);
	sodium_bin2hex(out + 7, PUSH_SIG_LEN + 1 - 7, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

static size_t
push_discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n; /* the receiver's answer body means nothing to us */
}

struct push *
push_new(const struct config *cfg, struct db *db, char *err, size_t errlen)
{
	struct push *p;
	char         host[64];

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "push: out of memory");
		free(p);
		return NULL;
	}
	p->cfg = cfg;
	p->db = db;
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "%s", "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(p->owner, sizeof(p->owner), "%s:%ld", host, (long)getpid());
	return p;
}

void
push_free(struct push *p)
{
	if (p == NULL)
		return;
	curl_easy_cleanup(p->curl);
	free(p->ws);
	free(p);
}

struct push_list {
	struct push_ws *ws;
	size_t          n, cap;
};

static int
push_collect(const struct workspace *w, void *arg)
{
	struct push_list *l = arg;
	struct push_ws   *nw;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((nw = realloc(l->ws, l->cap * sizeof(*nw))) == NULL)
			return -1;
		l->ws = nw;
	}
	memset(&l->ws[l->n], 0, sizeof(l->ws[l->n]));
	l->ws[l->n++].ws = *w;
	return 0;
}

/* The directory read again; what was known of a workspace is kept. */
static void
push_list(struct push *p, long long now)
{
	struct push_list l = { 0 };
	size_t           i, j;

	if (store_ws_each(p->db, push_collect, &l) != STORE_OK) {
		free(l.ws);
		return; /* the old list serves until the next try */
	}
	for (i = 0; i < l.n; i++) {
		l.ws[i].gen = -1;
		for (j = 0; j < p->nws; j++)
			if (p->ws[j].ws.id == l.ws[i].ws.id) {
				l.ws[i].gen = p->ws[j].gen;
				l.ws[i].look_at = p->ws[j].look_at;
				l.ws[i].seen = p->ws[j].seen;
				break;
			}
	}
	free(p->ws);
	p->ws = l.ws;
	p->nws = l.n;
	p->listed_at = now;
}

/*
 * A transport failure after the request may have left: a connection
 * the receiver reset or closed unanswered (an idle keep-alive it had
 * just dropped, a restart). Worth one more try at once, on a fresh
 * connection: the receiver dedupes by id, so a repeat costs nothing,
 * while a backoff and a recorded error would raise an alarm for a
 * blip. A refusal, a timeout or an answer is taken as it is.
 */
static int
push_transient(CURLcode rc)
{
	return rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
	    rc == CURLE_GOT_NOTHING;
}

/*
 * POSTs one event. 0 on a 2xx; -1 with why (no secret, no body: the
 * status or libcurl's words) otherwise.
 */
static int
push_post(struct push *p, const char *body, size_t len, uint64_t id, char *why,
    size_t whylen)
{
	struct curl_slist *h;
	char               sig[PUSH_SIG_LEN + 1], line[128], idh[64];
	long               code = 0;
	CURLcode           rc;
	int                tries = 0;

	push_sign(p->cfg->push_secret, body, len, sig);
	snprintf(line, sizeof(line), "X-Waba-Signature-256: %s", sig);
	snprintf(idh, sizeof(idh), "X-Waba-Event-Id: %llu",
	    (unsigned long long)id);
	if ((h = curl_slist_append(NULL, "Content-Type: application/json")) ==
	        NULL ||
	    curl_slist_append(h, line) == NULL ||
	    curl_slist_append(h, idh) == NULL) {
		curl_slist_free_all(h);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
again:
	curl_easy_reset(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_URL, p->cfg->push_url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)PUSH_CONNECT_MS);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long)PUSH_TIMEOUT_MS);
	curl_easy_setopt(p->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(p->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "waba-connect-push");
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, push_discard);
	curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, p->errbuf);
	if (tries > 0)
		curl_easy_setopt(p->curl, CURLOPT_FRESH_CONNECT, 1L);
	p->errbuf[0] = '\0';
	rc = curl_easy_perform(p->curl);
	if (rc != CURLE_OK && push_transient(rc) && tries++ == 0) {
		log_info("push: event %llu: %s; tried again at once",
		    (unsigned long long)id,
		    p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
		goto again;
	}
	curl_slist_free_all(h);
	sodium_memzero(sig, sizeof(sig));
	sodium_memzero(line, sizeof(line));
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "push receiver: %.200s",
		    p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(why, whylen, "push receiver: HTTP %ld", code);
		return -1;
	}
	return 0;
}

/*
 * One look at a workspace: when it has events past what it had pushed,
 * take its lease and push them, a batch at a time, in order, until
 * none is left, a push fails (the backoff then holds it) or stop.
 */
static void
push_workspace(struct push *p, struct push_ws *w, volatile sig_atomic_t *stop)
{
	struct json_object *o;
	struct sq           q;
	struct ev_row       r;
	uint64_t            newest, cursor, last;
	const char         *body;
	char                why[256];
	size_t              len, n;
	int                 claimed, failed = 0;

	if (store_push_last_event(p->db, &w->ws, &newest) != STORE_OK ||
	    newest <= w->seen)
		return;
	if (store_push_claim(p->db, w->ws.id, p->owner, PUSH_LEASE_S, &claimed,
	        &cursor) != STORE_OK ||
	    !claimed)
		return; /* another pusher has it, or its backoff runs */
	while (!*stop && !failed && cursor < newest) {
		if (store_ev_list(p->db, &w->ws, cursor, PUSH_BATCH, &q) !=
		    STORE_OK)
			return;
		last = cursor;
		n = 0;
		while (!failed && !*stop && store_ev_next(&q, &r)) {
			n++;
			if ((o = evj_event(&r)) == NULL) {
				snprintf(why, sizeof(why), "out of memory");
				failed = 1;
				break;
			}
			json_object_object_add(o, "workspace",
			    json_object_new_string(w->ws.slug));
			body = json_object_to_json_string_length(o,
			    JSON_C_TO_STRING_PLAIN |
			        JSON_C_TO_STRING_NOSLASHESCAPE,
			    &len);
			if (body == NULL ||
			    push_post(p, body, len, r.id, why, sizeof(why)) ==
			        -1)
				failed = 1;
			else
				last = r.id;
			json_object_put(o);
		}
		sq_close(&q);
		if (last > cursor &&
		    store_push_done(p->db, w->ws.id, p->owner, last) !=
		        STORE_OK)
			return;
		cursor = last;
		if (n == 0)
			break; /* newest was rolled back, or pruned */
	}
	if (failed) {
		log_warn("push: workspace %s: %s (event %llu; tried again "
		         "with a backoff)",
		    w->ws.slug, why, (unsigned long long)cursor + 1);
		store_push_failed(p->db, w->ws.id, p->owner, why,
		    PUSH_MAX_BACKOFF);
		/* The backoff is the database's: look again in a second. */
		w->look_at = clk_ms() + 1000;
		return;
	}
	w->seen = cursor > newest ? cursor : newest;
}

void
push_loop(struct push *p, volatile sig_atomic_t *stop,
    const sigset_t *wait_mask)
{
	struct timespec tick = { 0, PUSH_TICK_MS * 1000000L };
	long long       now, gen;
	size_t          i;

	log_info("push: events to the SaaS's receiver, as %s", p->owner);
	while (!*stop) {
		now = clk_ms();
		if (p->ws == NULL || now - p->listed_at >= PUSH_LIST_MS)
			push_list(p, now);
		db_request_begin(p->db);
		for (i = 0; i < p->nws && !*stop; i++) {
			gen = gate_events_gen(p->ws[i].ws.id);
			if (gen == p->ws[i].gen && now < p->ws[i].look_at)
				continue;
			p->ws[i].gen = gen;
			p->ws[i].look_at = now + PUSH_LOOK_MS;
			push_workspace(p, &p->ws[i], stop);
		}
		if (!*stop)
			pselect(0, NULL, NULL, NULL, &tick, wait_mask);
	}
	log_info("push: stopped");
}
