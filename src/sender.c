/*
 * sender: the outbox's event loop (sender.h). Claims are short
 * transactions of store/outbox_send.c; a claimed message is marked
 * sending before its request leaves, and after an outcome that does not
 * prove Meta did nothing it is never sent again. Two threads: the loop
 * (libcurl's multi: starts what is due, reads the answers) and the
 * database side (claims, outcomes stored, the workspaces' state), which
 * hand messages to each other under one mutex. With one thread the loop
 * waited for every statement: the requests due meanwhile left late (or
 * were given back, SND_LATE_MS), and the sender's and MariaDB's work for
 * a send were one after the other instead of side by side.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "app.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "graph.h"
#include "log.h"
#include "metrics.h"
#include "sender.h"
#include "store/connection.h"
#include "store/outbox.h"
#include "store/workspaces.h"
#include "vault.h"

#define SND_MAX_WS      4096  /* workspaces one sender serves */
#define SND_MAX_NUMBERS 16    /* numbers of one workspace it paces */
#define SND_LOOK_MS     500   /* how often a workspace's state is read */
#define SND_REFRESH_MS  2000  /* how often the workspace list is */
#define SND_CLAIM_MS    20    /* between two claim rounds */
#define SND_DEPTH_MS    10000 /* the queue's depth for /metrics */
#define SND_MAX_BODY    65536 /* a send's answer */
#define SND_USER_AGENT  "waba-connect-sender"
/*
 * Slots claimed ahead: at least SND_HORIZON_US, and up to
 * SND_HORIZON_MAX_US when a round of claims (and the settles between)
 * takes longer, since a number is claimed for once a round: 1.5 times
 * the rounds' smoothed interval. Each number takes at most its share of
 * max_in_flight (the numbers with work in the last round), so a long
 * look ahead does not let one campaign take another's turn.
 */
#define SND_HORIZON_US     60000
#define SND_HORIZON_MAX_US 300000
/*
 * Outcomes are stored in batches: a workspace's once SND_SETTLE_N of
 * them are known, or the oldest has waited SND_SETTLE_MS (stopping:
 * at once). A transaction and its commit for every few messages was
 * much of the database's work per send; the rows stay sending meanwhile.
 */
#define SND_SETTLE_N  64
#define SND_SETTLE_MS 25
/*
 * A send this much later than its slot (the loop was held up by the
 * database) is given back rather than sent: sent late, it would crowd
 * the next second of its number beyond per_number_mps. Paced 10% under
 * the limit (snd_claim_number), SND_LATE_MS and the network's jitter
 * still fit in any one second.
 */
#define SND_LATE_MS 20
/*
 * After Meta's 131056 a pair waits [sender] pair_interval_ms, and never
 * less than this: configured below Meta's own interval (about 6 s; 0
 * turns our pacing off), the refused message would otherwise be claimed
 * and refused again on every claim round until Meta's interval passed.
 */
#define SND_PAIR_HOLD_MS 1000

struct snd_ws {
	struct workspace ws;
	int              live;   /* still listed */
	int              paused; /* the connection cannot send */
	int              marked; /* needs_reconnect marked after a 190 */
	int              work;   /* something queued, as last seen */
	int              capped; /* more numbers than SND_MAX_NUMBERS: said */
	long long        look_ms;
	char             num[SND_MAX_NUMBERS][33];
	int              isdef[SND_MAX_NUMBERS];
	size_t           nnum;
	size_t           njobs; /* its claimed, not yet settled (db side) */
};

struct snd_job {
	int                used;
	int                started;  /* its request was added to the multi */
	long long          known_ms; /* since when (SND_SETTLE_MS) */
	struct snd_job    *next;     /* in a hand-over list */
	size_t             held;     /* its index in the loop's held */
	struct snd_ws     *w;
	uint64_t           id;
	char               phone[33];
	char               to[141];
	unsigned           attempts;
	uint64_t           claim; /* the claim's token, for the settle */
	int                sent;  /* requests made (graph_send_once) */
	long long          due_ms;
	long long          slot_us; /* the claim's, on the database's clock */
	int                unsent;  /* given back before its request left */
	CURL              *e;
	struct curl_slist *hdrs;
	char              *url, *body;
	struct buf         resp;
	/* The outcome, once known. */
	enum outbox_end end;
	char            message_id[256];
	char            error[1100];
	long long       retry_ms;
	long long       hold_us;   /* 429, 131056: the number (or pair) waits */
	int             hold_pair; /* the pair, not the number */
};

struct snd {
	struct app     *app;
	CURLM          *multi;
	struct snd_ws  *ws;
	size_t          nws, rr;
	struct snd_job *jobs;
	size_t          njobs, cap; /* njobs: the database side's, under mu */
	long long       lead_us;    /* outbox_want's, from the claims' time */
	long long       round_us;   /* between two claim rounds, smoothed */
	size_t          nwork, nwork_next; /* numbers with work, last round */
	/* Easy handles kept for the next request (curl_easy_reset). */
	CURL **pool;
	size_t npool;
	/*
	 * The hand-overs, under mu: claimed messages for the loop (ready),
	 * outcomes for the database side (done); quit ends the latter.
	 */
	pthread_t       db_thread;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	struct snd_job *ready, *done;
	int             quit;
	int             claiming; /* a claim round is under way */
	/* The database side's: outcomes waiting for their batch. */
	struct snd_job *unsettled;
	/* The loop's: what it holds, and the outcomes not handed over yet. */
	struct snd_job       **held;
	size_t                 nheld;
	struct snd_job        *out;
	volatile sig_atomic_t *stop;
	unsigned long long     sent, failed, unknown;
	int                    ws_capped; /* SND_MAX_WS reached: said */
};

static size_t
snd_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t      n = size * nmemb;

	if (b->len + n > SND_MAX_BODY || buf_append(b, data, n) == -1)
		return 0;
	return n;
}

/* --- Workspaces ---------------------------------------------------------- */

static int
snd_ws_add(const struct workspace *ws, void *arg)
{
	struct snd *s = arg;
	size_t      i;

	for (i = 0; i < s->nws; i++)
		if (s->ws[i].ws.id == ws->id) {
			s->ws[i].live = 1;
			return 0;
		}
	if (s->nws == SND_MAX_WS) {
		if (!s->ws_capped)
			log_warn(
			    "sender: more than %d workspaces: workspace %s "
			    "and the ones after it are left to another "
			    "sender",
			    SND_MAX_WS, ws->slug);
		s->ws_capped = 1;
		return 0;
	}
	memset(&s->ws[s->nws], 0, sizeof(s->ws[0]));
	s->ws[s->nws].ws = *ws;
	s->ws[s->nws].live = 1;
	s->nws++;
	return 0;
}

static void
snd_refresh(struct snd *s)
{
	size_t i;

	for (i = 0; i < s->nws; i++)
		s->ws[i].live = 0;
	if (store_ws_each(s->app->db, snd_ws_add, s) != STORE_OK)
		for (i = 0; i < s->nws; i++)
			s->ws[i].live = 1; /* keep serving what we knew */
}

/*
 * The workspace's state: a connection that cannot send pauses its
 * queue (not_connected, needs_reconnect); a connected one resumes it.
 */
static void
snd_look(struct snd *s, struct snd_ws *w, long long now)
{
	struct conn_row r;
	uint64_t        changed;
	int             queued, paused, stale, ok, more = 0;
	int             age_s = s->app->cfg->sender_claim_timeout_s;

	w->look_ms = now + SND_LOOK_MS;
	if (store_conn_get(s->app->db, &w->ws, &r) != STORE_OK ||
	    store_outbox_pending(s->app->db, &w->ws, age_s, &queued, &paused,
	        &stale) != STORE_OK) {
		w->work = 0;
		return;
	}
	if (stale &&
	    store_outbox_expire(s->app->db, &w->ws, age_s, &changed) ==
	        STORE_OK &&
	    changed > 0)
		log_warn("sender: workspace %s: %llu messages left sending by "
		         "a sender that stopped are unknown",
		    w->ws.slug, (unsigned long long)changed);
	ok = strcmp(r.status, "connected") == 0 && r.has_token;
	if (!ok && queued &&
	    store_outbox_pause(s->app->db, &w->ws, 1, &changed) == STORE_OK &&
	    changed > 0)
		log_info("sender: workspace %s: %llu messages paused (%s)",
		    w->ws.slug, (unsigned long long)changed, r.status);
	if (ok && paused &&
	    store_outbox_pause(s->app->db, &w->ws, 0, &changed) == STORE_OK &&
	    changed > 0) {
		log_info("sender: workspace %s: %llu messages resumed",
		    w->ws.slug, (unsigned long long)changed);
		queued = 1;
	}
	w->paused = !ok;
	if (ok)
		w->marked = 0;
	w->work = ok && queued;
	if (w->work &&
	    store_outbox_numbers(s->app->db, &w->ws, w->num, w->isdef,
	        SND_MAX_NUMBERS, &w->nnum, &more) != STORE_OK)
		w->work = 0;
	else if (w->work && more && !w->capped)
		log_warn("sender: workspace %s: more than %d active numbers: "
		         "messages from the ones after %s stay queued",
		    w->ws.slug, SND_MAX_NUMBERS, w->num[SND_MAX_NUMBERS - 1]);
	if (w->work)
		w->capped = more;
}

/* --- Requests ------------------------------------------------------------ */

static struct snd_job *
snd_slot(struct snd *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (!s->jobs[i].used)
			return &s->jobs[i];
	return NULL;
}

/*
 * A finished request's easy handle, kept: making and freeing one per
 * request was most of the sender's own CPU (malloc and free). Reset
 * before its next use; connections stay in the multi handle's cache.
 */
static void
snd_handle_put(struct snd *s, CURL *e)
{
	if (s->pool != NULL && s->npool < s->cap)
		s->pool[s->npool++] = e;
	else
		curl_easy_cleanup(e);
}

static CURL *
snd_handle_get(struct snd *s)
{
	CURL *e;

	if (s->npool == 0)
		return curl_easy_init();
	e = s->pool[--s->npool];
	curl_easy_reset(e);
	return e;
}

static void
snd_job_free(struct snd *s, struct snd_job *j)
{
	if (j->e != NULL) {
		if (j->started)
			curl_multi_remove_handle(s->multi, j->e);
		snd_handle_put(s, j->e);
	}
	if (j->hdrs != NULL) {
		struct curl_slist *l;

		for (l = j->hdrs; l != NULL; l = l->next)
			sodium_memzero(l->data, strlen(l->data));
		curl_slist_free_all(j->hdrs);
	}
	if (j->url != NULL)
		graph_secret_free(j->url);
	free(j->body);
	buf_free_secret(&j->resp);
	if (j->w != NULL)
		j->w->njobs--;
	memset(j, 0, sizeof(*j));
	pthread_mutex_lock(&s->mu);
	s->njobs--;
	pthread_mutex_unlock(&s->mu);
}

/* The request for a claimed message: URL, token, proof, body. */
static int
snd_build(struct snd *s, struct snd_job *j, const char *token,
    const char *stored)
{
	const struct config *cfg = s->app->cfg;
	struct json_object  *m;
	struct curl_slist   *l;
	char                 proof[65], path[64], *auth;
	const char *const    params[] = { "appsecret_proof", proof, NULL };

	if ((m = json_tokener_parse(stored)) == NULL)
		return -1;
	j->body = graph_json_message(m);
	json_object_put(m);
	snprintf(path, sizeof(path), "%s/messages", j->phone);
	graph_appsecret_proof(cfg->app_secret, token, proof);
	j->url = graph_build_url(cfg->graph_base_url, cfg->graph_version, path,
	    params);
	sodium_memzero(proof, sizeof(proof));
	if (j->body == NULL || j->url == NULL ||
	    (auth = graph_bearer_header(token)) == NULL)
		return -1;
	l = curl_slist_append(NULL, auth);
	graph_secret_free(auth);
	if (l == NULL)
		return -1;
	j->hdrs = l;
	if ((l = curl_slist_append(j->hdrs,
	         "Content-Type: application/json")) == NULL)
		return -1;
	j->hdrs = l;
	if ((j->e = snd_handle_get(s)) == NULL)
		return -1;
	curl_easy_setopt(j->e, CURLOPT_URL, j->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(j->e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(j->e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(j->e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(j->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(j->e, CURLOPT_CONNECTTIMEOUT_MS,
	    cfg->connect_timeout_ms);
	curl_easy_setopt(j->e, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	curl_easy_setopt(j->e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(j->e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file != NULL)
		curl_easy_setopt(j->e, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(j->e, CURLOPT_USERAGENT, SND_USER_AGENT);
	curl_easy_setopt(j->e, CURLOPT_HTTPHEADER, j->hdrs);
	curl_easy_setopt(j->e, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(j->e, CURLOPT_WRITEFUNCTION, snd_write);
	curl_easy_setopt(j->e, CURLOPT_WRITEDATA, &j->resp);
	curl_easy_setopt(j->e, CURLOPT_PRIVATE, j);
	/* Counts the requests (see snd_outcome); without it, never sent. */
	if (curl_easy_setopt(j->e, CURLOPT_PREREQDATA, &j->sent) != CURLE_OK ||
	    curl_easy_setopt(j->e, CURLOPT_PREREQFUNCTION, graph_send_once) !=
	        CURLE_OK)
		return -1;
	return 0;
}

static int
snd_token(struct snd *s, struct snd_ws *w, struct vault_secret *tok)
{
	struct vault_box box;
	char             err[256];

	memset(tok, 0, sizeof(*tok));
	if (store_conn_token_get(s->app->db, &w->ws, VAULT_KIND_WABA, &box) !=
	    STORE_OK)
		return -1;
	if (!vault_has_version(s->app->vault, box.key_version))
		(void)vault_refresh(&s->app->vault, s->app->cfg->key_ring_file,
		    err, sizeof(err));
	if (vault_decrypt(s->app->vault, w->ws.id, VAULT_KIND_WABA, &box, tok,
	        err, sizeof(err)) == -1)
		log_err("sender: %s", err); /* names the workspace only */
	vault_box_free(&box);
	return tok->data != NULL ? 0 : -1;
}

/* A slot for claimed row c of number k of w, counted in flight. */
static struct snd_job *
snd_job_new(struct snd *s, struct snd_ws *w, size_t k,
    const struct outbox_claim *c)
{
	struct snd_job *j = snd_slot(s);

	memset(j, 0, sizeof(*j));
	j->used = 1;
	pthread_mutex_lock(&s->mu);
	s->njobs++;
	pthread_mutex_unlock(&s->mu);
	j->w = w;
	w->njobs++;
	j->id = c->id;
	j->claim = c->claim;
	snprintf(j->phone, sizeof(j->phone), "%s", w->num[k]);
	return j;
}

/* Claims what one number of w may send within the horizon. */
static void
snd_claim_number(struct snd *s, struct snd_ws *w, size_t k, long long now)
{
	const struct config *cfg = s->app->cfg;
	struct outbox_claim *c;
	struct outbox_want   want = { .phone_number_id = w->num[k],
		  .is_default = w->isdef[k],
		  .gap_us = (1000000LL * 11 / 10) / cfg->sender_per_number_mps,
		  .horizon_us = s->round_us * 3 / 2,
		  .lead_us = s->lead_us,
		  .pair_us = (long long)cfg->sender_pair_interval_ms * 1000 };
	struct vault_secret  tok;
	struct snd_job      *j, *ready = NULL, **tail = &ready;
	long long            db_now, t0;
	size_t               n, i;
	int                  busy;

	want.max = (unsigned)(s->cap - s->njobs);
	if (s->nwork > 1 && want.max > s->cap / s->nwork)
		want.max = (unsigned)(s->cap / s->nwork);
	if (want.max < 16 && s->cap - s->njobs >= 16)
		want.max = 16;
	if (want.horizon_us < SND_HORIZON_US)
		want.horizon_us = SND_HORIZON_US;
	if (want.horizon_us > SND_HORIZON_MAX_US)
		want.horizon_us = SND_HORIZON_MAX_US;
	if (want.max == 0)
		return;
	if ((c = calloc(want.max, sizeof(*c))) == NULL)
		return;
	t0 = clk_ms();
	if (store_outbox_claim(s->app->db, &w->ws, &want, c, &n, &db_now,
	        &busy) != STORE_OK) {
		log_warn("sender: workspace %s: claim failed%s", w->ws.slug,
		    n > 0 ? "; its rows are given back when the database "
		            "answers"
		          : "");
		/* Perhaps sending under our claim: given back, not sent. */
		for (i = 0; i < n; i++) {
			j = snd_job_new(s, w, k, &c[i]);
			j->end = OUTBOX_RELEASE;
			j->known_ms = now;
			j->next = s->unsettled;
			s->unsettled = j;
		}
		outbox_claims_free(c, n);
		free(c);
		return;
	}
	/* Twice the claims' time, smoothed: 2 to 50 ms. */
	if (n > 0) {
		s->lead_us = (3 * s->lead_us + 2000 * (clk_ms() - t0)) / 4;
		if (s->lead_us < 2000)
			s->lead_us = 2000;
		if (s->lead_us > 50000)
			s->lead_us = 50000;
	}
	if (n == 0) {
		free(c);
		return;
	}
	if (snd_token(s, w, &tok) == -1)
		memset(&tok, 0, sizeof(tok));
	for (i = 0; i < n; i++) {
		j = snd_job_new(s, w, k, &c[i]);
		j->attempts = c[i].attempts;
		snprintf(j->to, sizeof(j->to), "%s", c[i].to);
		j->due_ms = now + (c[i].slot_us - db_now) / 1000;
		j->slot_us = c[i].slot_us;
		if (tok.data == NULL ||
		    snd_build(s, j, tok.data, c[i].body) == -1) {
			/* Never sent: back in the queue, retried later. */
			j->known_ms = now;
			j->unsent = 1;
			j->end = OUTBOX_RELEASE;
			j->retry_ms = 5000;
			snprintf(j->error, sizeof(j->error),
			    "the request could not be built (the token, or "
			    "the stored message)");
			j->next = s->unsettled;
			s->unsettled = j;
			continue;
		}
		*tail = j;
		tail = &j->next;
	}
	vault_secret_free(&tok);
	outbox_claims_free(c, n);
	free(c);
	if (ready != NULL) {
		pthread_mutex_lock(&s->mu);
		*tail = s->ready;
		s->ready = ready;
		pthread_mutex_unlock(&s->mu);
		curl_multi_wakeup(s->multi); /* the loop starts them */
	}
}

/*
 * The workspace's share of max_in_flight: its numbers' part of the
 * numbers with work in the last round (all of it when alone).
 */
static size_t
snd_share(const struct snd *s, const struct snd_ws *w)
{
	size_t share;

	if (s->nwork <= w->nnum)
		return s->cap;
	share = s->cap * w->nnum / s->nwork;
	return share > 0 ? share : 1;
}

static void
snd_claim(struct snd *s, long long now)
{
	size_t i, k, n = s->nws;
	int    pass, over;

	s->nwork = s->nwork_next;
	s->nwork_next = 0;
	/*
	 * Round-robin from a moving start: no workspace is always first.
	 * Twice: first the workspaces holding less than their share of
	 * max_in_flight, then the others with what is left. A campaign that
	 * holds every slot would otherwise take each slot as it frees
	 * whenever it comes before a small workspace in the turn's order,
	 * nearly always, and the small one would wait for the campaign's
	 * end (measured: 6.2 s for 10 sends, a campaign of 600 holding 64).
	 */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n && !*s->stop; i++) {
			struct snd_ws *w = &s->ws[(s->rr + i) % n];

			if (!w->live)
				continue;
			/* Looked at even when every slot is taken: a crashed
			   sender's rows expire, a reconnect resumes its queue.
			   The loop reads answers meanwhile. */
			if (pass == 0 && now >= w->look_ms)
				snd_look(s, w, now);
			if (!w->work || w->paused)
				continue;
			if (pass == 0)
				s->nwork_next += w->nnum;
			if (s->njobs >= s->cap)
				continue;
			over = w->njobs >= snd_share(s, w);
			if (over != pass)
				continue;
			for (k = 0; k < w->nnum && s->njobs < s->cap; k++)
				snd_claim_number(s, w, k, clk_ms());
		}
	if (n > 0)
		s->rr = (s->rr + 1) % n;
}

/* --- Outcomes ------------------------------------------------------------ */

static long long
snd_backoff_ms(unsigned attempts)
{
	long long ms = 500LL << (attempts > 6 ? 6 : attempts);

	return ms > 30000 ? 30000 : ms;
}

/* Meta surely did not act: again later, or failed when out of tries. */
static void
snd_retry(struct snd *s, struct snd_job *j, const char *why)
{
	if ((int)j->attempts >= s->app->cfg->sender_max_attempts) {
		j->end = OUTBOX_FAILED;
		snprintf(j->error, sizeof(j->error),
		    "not sent after %u attempts: %s", j->attempts, why);
		return;
	}
	j->end = OUTBOX_RETRY;
	j->retry_ms = snd_backoff_ms(j->attempts);
	metrics_send("retried");
	snprintf(j->error, sizeof(j->error), "%s", why);
}

/* A wamid fit for outbox.message_id (and the settle's JSON text). */
static int
snd_id_ok(const char *id)
{
	size_t n;

	for (n = 0; id[n] != '\0'; n++)
		if (id[n] < 0x21 || id[n] > 0x7e)
			return 0;
	return n > 0 && n <= OUTBOX_MESSAGE_ID_MAX;
}

static void
snd_outcome(struct snd *s, struct snd_job *j, CURLcode cc)
{
	struct graph_err  e;
	struct graph_sent sent;
	long              http = 0;
	int               parsed;

	curl_easy_getinfo(j->e, CURLINFO_RESPONSE_CODE, &http);
	metrics_graph("messages", graph_outcome_of(cc, http));
	if (j->sent == 0 && cc != CURLE_OK) {
		/*
		 * No request was made (no connection, a TLS handshake that
		 * failed, a timeout while connecting): nothing reached Meta.
		 * Judged by the request count, not the error: after a
		 * request left on a reused connection that closed, libcurl's
		 * resend can fail to connect, and the first may have been
		 * acted on. Not the connect time either: it is 0 on a reused
		 * connection. What never works (a refused certificate) ends
		 * failed after max_attempts, as not sent.
		 */
		snd_retry(s, j, curl_easy_strerror(cc));
		return;
	}
	if (cc != CURLE_OK && j->sent > 1) {
		j->end = OUTBOX_UNKNOWN;
		snprintf(j->error, sizeof(j->error), "%s",
		    GRAPH_SENT_ONCE_MESSAGE);
		return;
	}
	if (cc != CURLE_OK) {
		j->end = OUTBOX_UNKNOWN;
		snprintf(j->error, sizeof(j->error),
		    "Meta's answer did not arrive (%s): it may or may not have "
		    "sent the message, so it is not sent again",
		    curl_easy_strerror(cc));
		return;
	}
	if (http == 200) {
		memset(&e, 0, sizeof(e));
		if (graph_parse_sent(j->resp.data, j->resp.len, &sent, &e) ==
		    0) {
			j->end = OUTBOX_SENT;
			/* outbox.message_id holds 128: a longer id is not
			   cut (a cut id is another id), and not kept. */
			if (!snd_id_ok(sent.message_id))
				snprintf(j->error, sizeof(j->error),
				    "sent, but Meta's message id is longer "
				    "than %d bytes or not printable ASCII, "
				    "and was not kept",
				    OUTBOX_MESSAGE_ID_MAX);
			else
				snprintf(j->message_id, sizeof(j->message_id),
				    "%s", sent.message_id);
			return;
		}
		j->end = OUTBOX_UNKNOWN;
		snprintf(j->error, sizeof(j->error),
		    "Meta answered 200 without a message id");
		return;
	}
	parsed = graph_error_parse(http, j->resp.data, j->resp.len, &e) == 0;
	if (graph_err_is_token(&e)) {
		j->end = OUTBOX_PAUSE;
		snprintf(j->error, sizeof(j->error), "%s",
		    graph_reason_190(e.subcode));
		return;
	}
	if (e.code == 131056) {
		/* The pair's limit: that recipient waits. */
		long long hold = s->app->cfg->sender_pair_interval_ms;

		if (hold < SND_PAIR_HOLD_MS)
			hold = SND_PAIR_HOLD_MS;
		j->hold_us = hold * 1000;
		j->hold_pair = 1;
		j->end = OUTBOX_RELEASE;
		j->retry_ms = hold;
		snprintf(j->error, sizeof(j->error), "%s", e.message);
		return;
	}
	if (graph_err_is_rate_limit(&e)) {
		/*
		 * Meta's limits are the number's (130429, 131048) or its
		 * WABA's and app's (4, 80007, ...): the number waits them
		 * out and the message goes back to the queue without an
		 * attempt spent, or a limit counted over an hour would fail
		 * a campaign message by message. A bare 429 is taken as the
		 * throughput cap, the one Meta answers most.
		 */
		long long hold_ms = parsed && e.code != 0
		    ? (long long)graph_err_retry_after(&e) * 1000
		    : 1000;

		j->hold_us = hold_ms * 1000;
		j->end = OUTBOX_RELEASE;
		j->retry_ms = hold_ms;
		snprintf(j->error, sizeof(j->error), "%s", e.message);
		return;
	}
	if (parsed && e.rejected) {
		snd_retry(s, j, e.message);
		return;
	}
	if (!parsed && http >= 500) {
		j->end = OUTBOX_UNKNOWN;
		snprintf(j->error, sizeof(j->error),
		    "Meta answered HTTP %ld without an error: it may or may not "
		    "have sent the message, so it is not sent again",
		    http);
		return;
	}
	j->end = OUTBOX_FAILED;
	snprintf(j->error, sizeof(j->error), "%s%s%s%s", e.message,
	    *e.details ? " (" : "", e.details, *e.details ? ")" : "");
}

/* What a stored outcome means beyond its row. */
static void
snd_after(struct snd *s, struct snd_job *j)
{
	struct snd_ws *w = j->w;
	uint64_t       changed;

	switch (j->end) {
	case OUTBOX_SENT:
		s->sent++;
		metrics_send("sent");
		break;
	case OUTBOX_FAILED:
		s->failed++;
		metrics_send("failed");
		break;
	case OUTBOX_UNKNOWN:
		s->unknown++;
		metrics_send("unknown");
		log_warn("sender: workspace %s: message %llu unknown: %s",
		    w->ws.slug, (unsigned long long)j->id, j->error);
		break;
	case OUTBOX_PAUSE:
		w->paused = 1;
		w->look_ms = 0;
		(void)store_outbox_pause(s->app->db, &w->ws, 1, &changed);
		if (!w->marked &&
		    store_conn_mark(s->app->db, &w->ws, "needs_reconnect",
		        j->error) == STORE_OK) {
			w->marked = 1;
			log_warn(
			    "sender: workspace %s: Meta refused the token; "
			    "its queue is paused until it reconnects",
			    w->ws.slug);
		}
		break;
	default:
		break;
	}
}

/*
 * The error as the outbox stores it (VARCHAR(1000), utf8mb4): valid
 * UTF-8, any other byte as '?', cut to 1,000 bytes on a character
 * boundary. The settle's JSON text must be valid UTF-8, or the database
 * refuses the whole batch, every turn, and no outcome of the workspace
 * lands. Meta's text is not checked where it is parsed (json-c keeps
 * the bytes); this keeps the settle safe whatever the error holds.
 */
static void
snd_error_fit(char *e)
{
	unsigned char *p = (unsigned char *)e;
	size_t         i = 0, n, k, len = strlen(e);

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = p[i] >= 0xc2 && p[i] <= 0xdf   ? 2
		    : p[i] >= 0xe0 && p[i] <= 0xef ? 3
		    : p[i] >= 0xf0 && p[i] <= 0xf4 ? 4
		                                   : 0;
		for (k = 1; n != 0 && k < n; k++)
			if (i + k >= len || (p[i + k] & 0xc0) != 0x80)
				n = 0;
		/* Overlong forms, surrogates, past U+10FFFF (RFC 3629). */
		if (n != 0 &&
		    ((p[i] == 0xe0 && p[i + 1] < 0xa0) ||
		        (p[i] == 0xed && p[i + 1] > 0x9f) ||
		        (p[i] == 0xf0 && p[i + 1] < 0x90) ||
		        (p[i] == 0xf4 && p[i + 1] > 0x8f)))
			n = 0;
		if (n == 0) {
			p[i++] = '?';
			continue;
		}
		i += n;
	}
	if (len > 1000) {
		for (i = 1000; i > 0 && (p[i] & 0xc0) == 0x80; i--)
			;
		p[i] = '\0';
	}
}

/*
 * Stores the outcomes known (s->unsettled), one transaction per
 * workspace, when it has enough of them or the oldest waited long enough
 * (SND_SETTLE_N, SND_SETTLE_MS; all: at once); what the database did not
 * take stays for the next turn (the message is sending meanwhile, and
 * settled when it answers again). A number or pair Meta throttled is
 * held before its message can be claimed again.
 */
static void
snd_settle_all(struct snd *s, int all)
{
	struct outbox_result *r;
	struct snd_job      **js = NULL, **grp = NULL, *j;
	size_t                i, k, n, nj = 0;
	long long             now = clk_ms(), oldest;

	if (s->unsettled == NULL)
		return;
	if ((r = calloc(s->cap, sizeof(*r))) == NULL ||
	    (js = calloc(s->cap, sizeof(*js))) == NULL ||
	    (grp = calloc(s->cap, sizeof(*grp))) == NULL) {
		free(r);
		free(js);
		return;
	}
	for (j = s->unsettled; j != NULL && nj < s->cap; j = j->next)
		js[nj++] = j;
	s->unsettled = NULL;
	for (i = 0; i < nj; i++) {
		struct snd_ws *w;

		if (js[i] == NULL)
			continue;
		w = js[i]->w;
		oldest = now;
		for (n = 0, k = i; k < nj; k++) {
			if ((j = js[k]) == NULL || j->w != w)
				continue;
			js[k] = NULL;
			if (j->known_ms < oldest)
				oldest = j->known_ms;
			grp[n] = j;
			r[n].id = j->id;
			r[n].end = j->end;
			r[n].message_id = *j->message_id ? j->message_id : NULL;
			r[n].phone = j->phone;
			snd_error_fit(j->error);
			r[n].error = *j->error ? j->error : NULL;
			r[n].retry_ms = j->retry_ms;
			r[n].claim = j->claim;
			r[n].to = j->to;
			r[n].slot_us = j->unsent ? j->slot_us : 0;
			r[n].pair_us =
			    (long long)s->app->cfg->sender_pair_interval_ms *
			    1000;
			n++;
		}
		if (all || n >= SND_SETTLE_N || now - oldest >= SND_SETTLE_MS) {
			for (k = 0; k < n; k++)
				if (grp[k]->hold_us > 0) {
					(void)store_outbox_hold(s->app->db,
					    &w->ws, grp[k]->phone,
					    grp[k]->hold_pair ? grp[k]->to
					                      : NULL,
					    grp[k]->hold_us);
					grp[k]->hold_us = 0;
				}
			if (store_outbox_settle(s->app->db, &w->ws, r, n) ==
			    STORE_OK) {
				for (k = 0; k < n; k++) {
					snd_after(s, grp[k]);
					snd_job_free(s, grp[k]);
				}
				continue;
			}
		}
		/* A later turn's. */
		for (k = 0; k < n; k++) {
			grp[k]->next = s->unsettled;
			s->unsettled = grp[k];
		}
	}
	free(grp);
	free(js);
	free(r);
}

/* The loop lets go of j: its outcome is for the database side. */
static void
snd_release(struct snd *s, struct snd_job *j, long long now)
{
	s->held[j->held] = s->held[--s->nheld];
	s->held[j->held]->held = j->held;
	j->known_ms = now;
	j->next = s->out;
	s->out = j;
}

static void
snd_done(struct snd *s)
{
	struct snd_job *j;
	CURLMsg        *m;
	int             left;

	while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&j);
		snd_outcome(s, j, m->data.result);
		curl_multi_remove_handle(s->multi, j->e);
		j->started = 0;
		snd_release(s, j, clk_ms());
	}
}

/*
 * The messages queued now in every workspace this sender serves, for
 * /metrics (outbox depth; the pool's shared counters when this sender
 * is its child). One count a workspace every SND_DEPTH_MS: a gauge, not
 * worth more.
 */
static void
snd_depth(struct snd *s)
{
	struct outbox_glance g;
	long long            n = 0;
	size_t               i;

	for (i = 0; i < s->nws; i++)
		if (s->ws[i].live &&
		    store_outbox_glance(s->app->db, &s->ws[i].ws, &g) ==
		        STORE_OK)
			n += g.queued + g.paused;
	metrics_outbox_depth(n);
}

/*
 * The loop's turn: takes the claimed messages handed over, starts what
 * is due, gives back what is too late (or everything not started when
 * giving_back): the next due time.
 */
static long long
snd_step(struct snd *s, long long now, int giving_back)
{
	struct snd_job *j, *in;
	long long       next = now + SND_CLAIM_MS;
	size_t          i;

	pthread_mutex_lock(&s->mu);
	in = s->ready;
	s->ready = NULL;
	pthread_mutex_unlock(&s->mu);
	for (; in != NULL; in = j) {
		j = in->next;
		in->next = NULL;
		in->held = s->nheld;
		s->held[s->nheld++] = in;
	}
	for (i = 0; i < s->nheld;) {
		j = s->held[i];
		if (j->started) {
			i++;
			continue;
		}
		if (giving_back || j->due_ms + SND_LATE_MS < now) {
			/* Stopping, or late: back in the queue, not sent. */
			j->end = OUTBOX_RELEASE;
			j->retry_ms = 0;
			j->unsent = 1;
			snd_release(s, j, now);
			continue; /* held[i] is another one now */
		}
		if (j->due_ms <= now) {
			if (curl_multi_add_handle(s->multi, j->e) == CURLM_OK)
				j->started = 1;
		} else if (j->due_ms < next)
			next = j->due_ms;
		i++;
	}
	return next;
}

/* Hands the loop's outcomes to the database side. */
static void
snd_hand_over(struct snd *s)
{
	struct snd_job **tail;

	if (s->out == NULL)
		return;
	for (tail = &s->out; *tail != NULL; tail = &(*tail)->next)
		;
	pthread_mutex_lock(&s->mu);
	*tail = s->done;
	s->done = s->out;
	pthread_mutex_unlock(&s->mu);
	s->out = NULL;
}

/*
 * The database side: the workspace list and each one's state, claims
 * every SND_CLAIM_MS (handed to the loop), the loop's outcomes stored.
 * Signals are the loop's (blocked here): a statement is never cut short.
 */
static void *
snd_db_main(void *arg)
{
	struct snd     *s = arg;
	struct snd_job *in, *j;
	struct timespec ts;
	long long       now, refresh = 0, claim = 0, depth = 0, wait, last = 0;
	int             quit;

	for (;;) {
		/* No requests here: each round starts with nothing held. */
		db_stmt_release(s->app->db);
		now = clk_ms();
		if (!*s->stop && now >= refresh) {
			snd_refresh(s);
			refresh = now + SND_REFRESH_MS;
		}
		if (!*s->stop && now >= depth) {
			snd_depth(s);
			depth = now + SND_DEPTH_MS;
		}
		/*
		 * claiming is set before *stop is read: the loop, once it
		 * saw a stop, waits for a round under way (its messages
		 * are given back), and no round starts after it looked.
		 */
		pthread_mutex_lock(&s->mu);
		s->claiming = 1;
		pthread_mutex_unlock(&s->mu);
		if (!*s->stop && now >= claim) {
			if (last != 0)
				s->round_us = (3 * s->round_us +
				                  1000 * (now - last)) /
				    4;
			last = now;
			snd_claim(s, now);
			claim = now + SND_CLAIM_MS;
		}
		pthread_mutex_lock(&s->mu);
		s->claiming = 0;
		in = s->done;
		s->done = NULL;
		quit = s->quit;
		if (quit) {
			/* Not the loop's any more: never sent, given back. */
			for (j = s->ready; j != NULL; j = j->next) {
				j->end = OUTBOX_RELEASE;
				j->unsent = 1;
				j->known_ms = now;
			}
			for (j = s->ready; j != NULL && j->next != NULL;
			     j = j->next)
				;
			if (j != NULL) {
				j->next = in;
				in = s->ready;
			}
			s->ready = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		for (; in != NULL; in = j) {
			j = in->next;
			in->next = s->unsettled;
			s->unsettled = in;
		}
		snd_settle_all(s, *s->stop || quit);
		if (quit)
			break;
		wait = claim - clk_ms();
		if (wait < 1)
			wait = 1;
		if (wait > SND_CLAIM_MS)
			wait = SND_CLAIM_MS;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += wait * 1000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_mutex_lock(&s->mu);
		if (s->done == NULL && !s->quit)
			(void)pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

/* --- The loop ------------------------------------------------------------ */

int
sender_run(struct app *a, volatile sig_atomic_t *stop)
{
	const struct config *cfg = a->cfg;
	struct snd           s;
	struct snd_job      *j;
	sigset_t             all, old;
	long long            now, next, deadline = 0;
	int                  running, rc = 1, started = 0, sync = 0;
	size_t               i, njobs;

	memset(&s, 0, sizeof(s));
	s.app = a;
	s.stop = stop;
	s.cap = (size_t)cfg->sender_max_in_flight;
	if ((s.multi = curl_multi_init()) == NULL ||
	    (s.ws = calloc(SND_MAX_WS, sizeof(*s.ws))) == NULL ||
	    (s.jobs = calloc(s.cap, sizeof(*s.jobs))) == NULL ||
	    (s.pool = calloc(s.cap, sizeof(*s.pool))) == NULL ||
	    (s.held = calloc(s.cap, sizeof(*s.held))) == NULL)
		goto out;
	if (pthread_mutex_init(&s.mu, NULL) != 0)
		goto out;
	if (pthread_cond_init(&s.cv, NULL) != 0) {
		pthread_mutex_destroy(&s.mu);
		goto out;
	}
	sync = 1;
	curl_multi_setopt(s.multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	/*
	 * Connections kept for max_in_flight requests over HTTP/1.1: by
	 * default four per handle in the multi at the moment, so a lull
	 * closed the connections the next burst opened again.
	 */
	curl_multi_setopt(s.multi, CURLMOPT_MAXCONNECTS, (long)s.cap);
	/* The database side inherits a mask blocking every signal. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	started = pthread_create(&s.db_thread, NULL, snd_db_main, &s) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started) {
		log_err("sender: the database thread did not start");
		goto out;
	}
	log_info("sender: started (max_in_flight %d, per_number_mps %d, "
	         "pair_interval_ms %d)",
	    cfg->sender_max_in_flight, cfg->sender_per_number_mps,
	    cfg->sender_pair_interval_ms);
	for (;;) {
		now = clk_ms();
		if (*stop && deadline == 0) {
			deadline = now + cfg->timeout_ms + 1000;
			pthread_mutex_lock(&s.mu);
			log_info("sender: stopping: %zu in flight", s.njobs);
			pthread_cond_signal(&s.cv);
			pthread_mutex_unlock(&s.mu);
		}
		next = snd_step(&s, now, *stop != 0);
		curl_multi_perform(s.multi, &running);
		snd_done(&s);
		/* deadline, not *stop: a signal may have come in just now. */
		if (deadline != 0 && now > deadline) {
			/* Bounded: what is still in flight is unknown. */
			while (s.nheld > 0) {
				j = s.held[0];
				/* Still connecting (no request made):
				   nothing reached Meta. */
				j->end = j->started && j->sent != 0
				    ? OUTBOX_UNKNOWN
				    : OUTBOX_RELEASE;
				j->unsent = j->end == OUTBOX_RELEASE;
				if (j->started) {
					curl_multi_remove_handle(s.multi, j->e);
					j->started = 0;
				}
				snprintf(j->error, sizeof(j->error), "%s",
				    j->end == OUTBOX_UNKNOWN
				        ? "the sender stopped before Meta "
				          "answered"
				        : "");
				snd_release(&s, j, now);
			}
		}
		snd_hand_over(&s);
		pthread_mutex_lock(&s.mu);
		njobs = s.njobs;
		if (s.claiming || s.ready != NULL)
			njobs++; /* a round's messages, still to give back */
		pthread_mutex_unlock(&s.mu);
		if (deadline != 0 && njobs == 0)
			break;
		if (deadline != 0 && now > deadline + 5000)
			break; /* the database is gone: claim_timeout_s */
		next -= clk_ms();
		if (next < 1)
			next = 1;
		if (next > 50)
			next = 50;
		curl_multi_poll(s.multi, NULL, 0, (int)next, NULL);
	}
	rc = 0;
out:
	if (started) {
		pthread_mutex_lock(&s.mu);
		s.quit = 1;
		pthread_cond_signal(&s.cv);
		pthread_mutex_unlock(&s.mu);
		pthread_join(s.db_thread, NULL);
		log_info(
		    "sender: stopped: %llu sent, %llu failed, %llu unknown",
		    s.sent, s.failed, s.unknown);
	}
	if (s.jobs != NULL)
		for (i = 0; i < s.cap; i++)
			if (s.jobs[i].used)
				snd_job_free(&s, &s.jobs[i]);
	if (sync) {
		pthread_cond_destroy(&s.cv);
		pthread_mutex_destroy(&s.mu);
	}
	free(s.held);
	free(s.jobs);
	free(s.ws);
	if (s.pool != NULL)
		while (s.npool > 0)
			curl_easy_cleanup(s.pool[--s.npool]);
	free(s.pool);
	if (s.multi != NULL)
		curl_multi_cleanup(s.multi);
	return rc;
}
