/*
 * Open-loop load for issue 14's "p99 at half the maximum rate": requests
 * leave on a fixed schedule (request i is due at start + i / RATE),
 * whatever the answers before them did, and each one's latency runs from
 * the moment it was due, not from when a connection was free to send it.
 * A closed-loop tool (wrk) waits for an answer before the next request on
 * a connection, so a slow answer delays the requests behind it without
 * counting them slow (coordinated omission); wrk2, which does this, is
 * not in Debian 12. libcurl's multi interface keeps at most CONNS
 * connections; requests due while all are busy wait in its queue, and
 * that wait is part of their latency.
 *
 * usage: openloop RATE SECONDS CONNS REQUESTS
 *   REQUESTS: lines "URL<TAB>COOKIE", one picked at random per request
 *   (COOKIE is the Cookie header's value, may be empty).
 * Prints one JSON object: rate asked and reached, n, errors (transport
 * failures and answers other than 200), p50, p90, p99, max in ms.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

struct target {
	char *url;
	char *cookie; /* "Cookie: ..." or NULL */
};

struct req {
	double             due;
	struct curl_slist *hdr;
};

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct target *
load(const char *path, size_t *n)
{
	struct target *t = NULL, *g;
	char           line[8192], *tab, *nl;
	size_t         cap = 0;
	FILE          *f;

	*n = 0;
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (*line == '\0')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((g = realloc(t, cap * sizeof(*t))) == NULL)
				goto fail;
			t = g;
		}
		tab = strchr(line, '\t');
		if (tab != NULL)
			*tab++ = '\0';
		t[*n].url = strdup(line);
		t[*n].cookie = NULL;
		if (tab != NULL && *tab != '\0' &&
		    (t[*n].cookie = malloc(strlen(tab) + 9)) != NULL)
			sprintf(t[*n].cookie, "Cookie: %s", tab);
		if (t[*n].url == NULL)
			goto fail;
		(*n)++;
	}
	fclose(f);
	return t;
fail:
	fclose(f);
	free(t);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct target  *tg;
	struct req     *rq;
	CURLM          *m;
	CURL           *e;
	CURLMsg        *msg;
	double         *lat, rate, t0, t, end, wait;
	size_t          ntg, total, next = 0, done = 0, nlat = 0;
	long            code, errors = 0;
	int             seconds, conns, running = 0, left;
	unsigned int    seed = 12345;
	fd_set          fr, fw, fx;
	struct timespec ts;
	long            ct;
	int             maxfd;

	if (argc != 5) {
		fprintf(stderr,
		    "usage: openloop RATE SECONDS CONNS REQUESTS\n");
		return 2;
	}
	rate = atof(argv[1]);
	seconds = atoi(argv[2]);
	conns = atoi(argv[3]);
	if (rate <= 0 || seconds <= 0 || conns <= 0 ||
	    (tg = load(argv[4], &ntg)) == NULL || ntg == 0) {
		fprintf(stderr, "openloop: bad arguments or no requests\n");
		return 2;
	}
	total = (size_t)(rate * seconds);
	if ((rq = calloc(total, sizeof(*rq))) == NULL ||
	    (lat = calloc(total, sizeof(*lat))) == NULL)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
	t0 = now();
	end = t0 + seconds + 10; /* what is still unanswered then failed */
	while (done < total && (t = now()) < end) {
		/* Everything due by now leaves now, late or not. */
		while (next < total && t0 + next / rate <= t) {
			struct target *p = &tg[rand_r(&seed) % ntg];

			rq[next].due = t0 + next / rate;
			if (p->cookie != NULL)
				rq[next].hdr = curl_slist_append(NULL,
				    p->cookie);
			e = curl_easy_init();
			curl_easy_setopt(e, CURLOPT_URL, p->url);
			curl_easy_setopt(e, CURLOPT_HTTPHEADER, rq[next].hdr);
			curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
			curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
			curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(e, CURLOPT_PRIVATE, &rq[next]);
			curl_multi_add_handle(m, e);
			next++;
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct req *r;

			if (msg->msg != CURLMSG_DONE)
				continue;
			e = msg->easy_handle;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
			code = 0;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 200)
				errors++;
			else
				lat[nlat++] = (now() - r->due) * 1000.0;
			curl_multi_remove_handle(m, e);
			curl_easy_cleanup(e);
			curl_slist_free_all(r->hdr);
			done++;
		}
		/*
		 * Sleep until the next is due or a socket is ready, to the
		 * microsecond: curl_multi_poll counts in milliseconds, and at
		 * more than 1,000 requests a second that would either batch
		 * them or spin a core the server needs.
		 */
		wait = next < total ? t0 + next / rate - now() : 0.05;
		if (curl_multi_timeout(m, &ct) == CURLM_OK && ct >= 0 &&
		    ct / 1000.0 < wait)
			wait = ct / 1000.0;
		if (wait > 0) {
			FD_ZERO(&fr);
			FD_ZERO(&fw);
			FD_ZERO(&fx);
			maxfd = -1;
			curl_multi_fdset(m, &fr, &fw, &fx, &maxfd);
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
			pselect(maxfd + 1, &fr, &fw, &fx, &ts, NULL);
		}
	}
	errors += (long)(total - done);
	qsort(lat, nlat, sizeof(*lat), cmp);
#define PCT(p) (nlat ? lat[(size_t)((nlat - 1) * (p))] : -1.0)
	printf("{\"rate\": %.0f, \"reached\": %.1f, \"n\": %zu, "
	       "\"errors\": %ld, \"p50\": %.3f, \"p90\": %.3f, "
	       "\"p99\": %.3f, \"max\": %.3f}\n",
	    rate, nlat / (double)seconds, nlat, errors, PCT(0.5), PCT(0.9),
	    PCT(0.99), nlat ? lat[nlat - 1] : -1.0);
	curl_multi_cleanup(m);
	curl_global_cleanup();
	return 0;
}
