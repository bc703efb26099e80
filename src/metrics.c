/*
 * metrics: the pool's counters in shared memory and their Prometheus
 * text exposition (metrics.h). As in meta_gate.c, everything shared is a
 * lock-free C11 atomic (a worker killed while holding a lock would hold
 * it for good), and an all-zero segment is valid, so a fresh mapping
 * needs no initialisation.
 *
 * Fixed-size tables: requests by route index and status, a latency
 * histogram per route; and a small table of named counters (Graph
 * endpoint and outcome, webhook and send outcomes) whose slots are
 * claimed by name, once, with a compare-and-swap. Two processes may
 * claim the same name at once: the exposition sums slots of one name.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"
#include "shm.h"

/* Bump when a member changes place (a named segment outlives us). */
#define METRICS_NAME_FMT "/waba-connect-metrics-v2.%lu.%08lx"
#define METRICS_KEYS     256
#define METRICS_KEYLEN   72
#define METRICS_NBUCKETS 11
#define METRICS_MBUCKETS 10

static const int metrics_codes[] = { 200, 201, 202, 204, 301, 302, 303, 304,
	400, 401, 403, 404, 405, 409, 410, 413, 414, 415, 422, 429, 500, 502,
	503, 504 };
#define METRICS_NCODES  (sizeof(metrics_codes) / sizeof(metrics_codes[0]))
#define METRICS_NSTATUS (METRICS_NCODES + 1) /* the last: any other */

/* Upper bounds in µs; the exposition prints them in seconds. */
static const long long   metrics_bounds_us[METRICS_NBUCKETS] = { 5000, 10000,
	  25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	  10000000 };
static const char *const metrics_bounds_s[METRICS_NBUCKETS] = { "0.005", "0.01",
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10" };
/*
 * A monitor pass: one Graph call or two per workspace due, one at a
 * time, so from a second (nothing due) to many minutes (thousands due).
 */
static const long long   metrics_mbounds_us[METRICS_MBUCKETS] = { 1000000,
	  5000000, 15000000, 30000000, 60000000, 120000000, 300000000, 600000000,
	  1800000000, 3600000000 };
static const char *const metrics_mbounds_s[METRICS_MBUCKETS] = { "1", "5", "15",
	"30", "60", "120", "300", "600", "1800", "3600" };

struct metrics_key {
	atomic_int   state; /* 0 free, 1 being named, 2 named */
	char         name[METRICS_KEYLEN];
	atomic_llong value;
};

struct metrics_shm {
	atomic_llong       req[METRICS_ROUTES + 1][METRICS_NSTATUS];
	atomic_llong       bucket[METRICS_ROUTES + 1][METRICS_NBUCKETS];
	atomic_llong       dur_us[METRICS_ROUTES + 1];
	atomic_llong       dur_n[METRICS_ROUTES + 1];
	atomic_llong       mon_passes, mon_failed, mon_sum_us, mon_last_end;
	atomic_llong       mon_bucket[METRICS_MBUCKETS];
	atomic_llong       outbox_depth, outbox_set;
	struct metrics_key key[METRICS_KEYS];
};

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "process-shared atomics");

static struct metrics_shm *metrics;
static const char *const *metrics_route_names, *const *metrics_route_methods;
static size_t metrics_nroutes;

int
metrics_init_pool(char *err, size_t errlen)
{
	metrics = shm_anon("metrics", sizeof(*metrics), err, errlen);
	return metrics == NULL ? -1 : 0;
}

int
metrics_init_spawned(const char *config_path, char *err, size_t errlen)
{
	metrics = shm_named("metrics", METRICS_NAME_FMT, config_path,
	    sizeof(*metrics), err, errlen);
	return metrics == NULL ? -1 : 0;
}

int
metrics_attach_spawned(const char *config_path, char *err, size_t errlen)
{
	metrics = shm_named_existing("metrics", METRICS_NAME_FMT, config_path,
	    sizeof(*metrics), err, errlen);
	if (metrics != NULL)
		return 0;
	return errno == ENOENT ? 1 : -1;
}

void
metrics_routes(const char *const *names, const char *const *methods, size_t n)
{
	metrics_route_names = names;
	metrics_route_methods = methods;
	metrics_nroutes = n > METRICS_ROUTES ? METRICS_ROUTES : n;
}

static size_t
metrics_status_slot(int status)
{
	size_t i;

	for (i = 0; i < METRICS_NCODES; i++)
		if (metrics_codes[i] == status)
			return i;
	return METRICS_NCODES;
}

void
metrics_request(int route, int status, long long duration_us)
{
	size_t r, b;

	if (metrics == NULL)
		return;
	r = (route < 0 || (size_t)route >= metrics_nroutes) ? METRICS_ROUTES
	                                                    : (size_t)route;
	atomic_fetch_add(&metrics->req[r][metrics_status_slot(status)], 1);
	for (b = 0; b < METRICS_NBUCKETS; b++)
		if (duration_us <= metrics_bounds_us[b])
			atomic_fetch_add(&metrics->bucket[r][b], 1);
	atomic_fetch_add(&metrics->dur_us[r], duration_us);
	atomic_fetch_add(&metrics->dur_n[r], 1);
}

/* The slot named name, claimed when there is none; NULL when full. */
static struct metrics_key *
metrics_key(const char *name)
{
	struct metrics_key *k;
	size_t              i;
	int                 st;

	for (i = 0; i < METRICS_KEYS; i++) {
		k = &metrics->key[i];
		st = atomic_load(&k->state);
		if (st == 2 && strcmp(k->name, name) == 0)
			return k;
		if (st == 0) {
			if (!atomic_compare_exchange_strong(&k->state, &st, 1))
				continue; /* another took it: look again later */
			snprintf(k->name, sizeof(k->name), "%s", name);
			atomic_store(&k->state, 2);
			return k;
		}
	}
	return NULL;
}

static void
metrics_count(const char *name)
{
	struct metrics_key *k;

	if (metrics != NULL && (k = metrics_key(name)) != NULL)
		atomic_fetch_add(&k->value, 1);
}

void
metrics_graph(const char *endpoint, const char *outcome)
{
	char name[METRICS_KEYLEN];

	snprintf(name, sizeof(name), "g%s|%s", endpoint, outcome);
	metrics_count(name);
}

void
metrics_webhook(const char *outcome)
{
	char name[METRICS_KEYLEN];

	snprintf(name, sizeof(name), "w%s", outcome);
	metrics_count(name);
}

void
metrics_send(const char *outcome)
{
	char name[METRICS_KEYLEN];

	snprintf(name, sizeof(name), "s%s", outcome);
	metrics_count(name);
}

void
metrics_monitor_pass(long long duration_us, int failed)
{
	size_t b;

	if (metrics == NULL)
		return;
	atomic_fetch_add(&metrics->mon_passes, 1);
	atomic_fetch_add(&metrics->mon_failed, failed ? 1 : 0);
	for (b = 0; b < METRICS_MBUCKETS; b++)
		if (duration_us <= metrics_mbounds_us[b])
			atomic_fetch_add(&metrics->mon_bucket[b], 1);
	atomic_fetch_add(&metrics->mon_sum_us, duration_us);
	atomic_store(&metrics->mon_last_end, (long long)time(NULL));
}

void
metrics_outbox_depth(long long depth)
{
	if (metrics == NULL)
		return;
	atomic_store(&metrics->outbox_depth, depth);
	atomic_store(&metrics->outbox_set, 1);
}

/* ---- [metrics] allow ------------------------------------------------ */

/* One entry "ADDR" or "ADDR/BITS" into 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static int
metrics_parse_net(const char *s, size_t len, unsigned char net[16], int *bits)
{
	char           text[64], *slash, *end;
	struct in_addr a4;
	long           b;
	int            v4;

	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	if ((slash = strchr(text, '/')) != NULL)
		*slash++ = '\0';
	memset(net, 0, 16);
	if ((v4 = inet_pton(AF_INET, text, &a4)) == 1) {
		net[10] = net[11] = 0xff;
		memcpy(net + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, text, net) != 1)
		return -1;
	*bits = 128;
	if (slash != NULL) {
		errno = 0;
		b = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || errno != 0 || b < 0 ||
		    b > (v4 == 1 ? 32 : 128))
			return -1;
		*bits = (int)b + (v4 == 1 ? 96 : 0);
	}
	return 0;
}

static int
metrics_in_net(const unsigned char addr[16], const unsigned char net[16],
    int bits)
{
	int           full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(addr, net, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (addr[full] & mask) == (net[full] & mask);
}

/* Calls fn for each entry of list; stops at the first non-zero. */
static int
metrics_each(const char *list, int (*fn)(const char *, size_t, void *),
    void                *arg)
{
	const char *p = list, *e;
	int         rc;

	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e && *e != ',' && !isspace((unsigned char)*e); e++)
			;
		if ((rc = fn(p, (size_t)(e - p), arg)) != 0)
			return rc;
		p = e;
	}
	return 0;
}

struct metrics_match {
	unsigned char addr[16];
};

static int
metrics_match_one(const char *s, size_t len, void *arg)
{
	struct metrics_match *m = arg;
	unsigned char         net[16];
	int                   bits;

	if (metrics_parse_net(s, len, net, &bits) == -1)
		return 0;
	return metrics_in_net(m->addr, net, bits);
}

int
metrics_allowed(const char *list, const char *addr)
{
	struct metrics_match m;
	int                  bits;

	if (list == NULL || addr == NULL ||
	    metrics_parse_net(addr, strlen(addr), m.addr, &bits) == -1 ||
	    bits != 128)
		return 0;
	return metrics_each(list, metrics_match_one, &m) == 1;
}

struct metrics_why {
	char  *why;
	size_t len;
	int    n;
};

static int
metrics_check_one(const char *s, size_t len, void *arg)
{
	struct metrics_why *w = arg;
	unsigned char       net[16];
	int                 bits;

	w->n++;
	if (metrics_parse_net(s, len, net, &bits) == 0)
		return 0;
	snprintf(w->why, w->len,
	    "\"%.*s\" is not an IPv4 or IPv6 address or CIDR prefix",
	    (int)(len > 64 ? 64 : len), s);
	return -1;
}

int
metrics_allow_check(const char *list, char *why, size_t whylen)
{
	struct metrics_why w = { why, whylen, 0 };

	if (metrics_each(list, metrics_check_one, &w) != 0)
		return -1;
	if (w.n == 0) {
		snprintf(why, whylen,
		    "no address (give 127.0.0.1 for none "
		    "but this host)");
		return -1;
	}
	return 0;
}

/* ---- the exposition ------------------------------------------------- */

/* A label value: \ " and newline escaped (text format 0.0.4). */
static int
metrics_label(struct buf *out, const char *s, size_t len)
{
	size_t i;
	int    rc = 0;

	for (i = 0; i < len && rc == 0; i++) {
		if (s[i] == '\\' || s[i] == '"')
			rc = buf_putc(out, '\\') == -1 ? -1
			                               : buf_putc(out, s[i]);
		else if (s[i] == '\n')
			rc = buf_puts(out, "\\n");
		else
			rc = buf_putc(out, s[i]);
	}
	return rc;
}

static const char *
metrics_route_method(size_t r)
{
	if (r < metrics_nroutes && metrics_route_methods != NULL)
		return metrics_route_methods[r];
	return "";
}

/* method="M",route="P" of route r (its pattern: no ids, no slugs). */
static int
metrics_route_labels(struct buf *o, size_t r)
{
	const char *name;
	int         rc;

	rc = buf_printf(o, "method=\"%s\",route=\"", metrics_route_method(r));
	name = r < metrics_nroutes && metrics_route_names != NULL
	    ? metrics_route_names[r]
	    : "unmatched";
	rc |= metrics_label(o, name, strlen(name));
	rc |= buf_putc(o, '"');
	return rc == 0 ? 0 : -1;
}

static int
metrics_render_requests(struct buf *o)
{
	size_t    r, s, b;
	long long v, n;
	int       rc = 0;
	char      code[16];

	rc |= buf_puts(o,
	    "# HELP waba_http_requests_total Requests answered, "
	    "by route pattern and status.\n"
	    "# TYPE waba_http_requests_total counter\n");
	for (r = 0; r <= METRICS_ROUTES; r++)
		for (s = 0; s < METRICS_NSTATUS; s++) {
			if ((v = atomic_load(&metrics->req[r][s])) == 0)
				continue;
			if (s < METRICS_NCODES)
				snprintf(code, sizeof(code), "%d",
				    metrics_codes[s]);
			else
				snprintf(code, sizeof(code), "other");
			rc |= buf_puts(o, "waba_http_requests_total{");
			rc |= metrics_route_labels(o, r);
			rc |= buf_printf(o, ",status=\"%s\"} %lld\n", code, v);
		}
	rc |= buf_puts(o,
	    "# HELP waba_http_request_duration_seconds Time "
	    "from the request's first byte to its answer.\n"
	    "# TYPE waba_http_request_duration_seconds "
	    "histogram\n");
	for (r = 0; r <= METRICS_ROUTES; r++) {
		if ((n = atomic_load(&metrics->dur_n[r])) == 0)
			continue;
		for (b = 0; b <= METRICS_NBUCKETS; b++) {
			rc |= buf_puts(o,
			    "waba_http_request_duration_seconds_"
			    "bucket{");
			rc |= metrics_route_labels(o, r);
			rc |= buf_printf(o, ",le=\"%s\"} %lld\n",
			    b < METRICS_NBUCKETS ? metrics_bounds_s[b] : "+Inf",
			    b < METRICS_NBUCKETS
			        ? atomic_load(&metrics->bucket[r][b])
			        : n);
		}
		v = atomic_load(&metrics->dur_us[r]);
		rc |= buf_puts(o, "waba_http_request_duration_seconds_sum{");
		rc |= metrics_route_labels(o, r);
		rc |= buf_printf(o, "} %lld.%06lld\n", v / 1000000,
		    v % 1000000);
		rc |= buf_puts(o, "waba_http_request_duration_seconds_count{");
		rc |= metrics_route_labels(o, r);
		rc |= buf_printf(o, "} %lld\n", n);
	}
	return rc == 0 ? 0 : -1;
}

/*
 * The named counters of one family (prefix), each name once, its slots
 * summed. labels: the label names the name's parts (split at '|') take.
 */
static int
metrics_render_keys(struct buf *o, char prefix, const char *metric,
    const char *help, const char *const *labels, int nlabels)
{
	struct metrics_key *k, *j;
	size_t              i, m;
	long long           v;
	const char         *p, *bar;
	int                 rc = 0, dup, l;

	rc |= buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n", metric, help,
	    metric);
	for (i = 0; i < METRICS_KEYS; i++) {
		k = &metrics->key[i];
		if (atomic_load(&k->state) != 2 || k->name[0] != prefix)
			continue;
		for (dup = 0, m = 0; m < i && !dup; m++) {
			j = &metrics->key[m];
			dup = atomic_load(&j->state) == 2 &&
			    strcmp(j->name, k->name) == 0;
		}
		if (dup)
			continue;
		for (v = 0, m = i; m < METRICS_KEYS; m++) {
			j = &metrics->key[m];
			if (atomic_load(&j->state) == 2 &&
			    strcmp(j->name, k->name) == 0)
				v += atomic_load(&j->value);
		}
		rc |= buf_printf(o, "%s{", metric);
		for (p = k->name + 1, l = 0; l < nlabels; l++) {
			bar = l + 1 < nlabels ? strchr(p, '|') : NULL;
			if (bar == NULL)
				bar = p + strlen(p);
			rc |= buf_printf(o, "%s%s=\"", l ? "," : "", labels[l]);
			rc |= metrics_label(o, p, (size_t)(bar - p));
			rc |= buf_putc(o, '"');
			p = *bar ? bar + 1 : bar;
		}
		rc |= buf_printf(o, "} %lld\n", v);
	}
	return rc == 0 ? 0 : -1;
}

/*
 * The monitor's passes recorded in this segment: the pool's monitor
 * child, or `waba-connect-admin monitor` (--once from the timer) run
 * as the same user with the same config. Before any pass the counters
 * and the histogram are 0, which is true, and the last pass's time is
 * 0, the Unix epoch: `time() - waba_monitor_last_pass_timestamp_seconds`
 * is then as large as it gets, and an alert on a stale monitor fires
 * rather than finding no series.
 */
static int
metrics_render_monitor(struct buf *o)
{
	long long bucket[METRICS_MBUCKETS], n, v;
	size_t    b;
	int       rc = 0;

	/*
	 * The buckets before the count, the count before the sum: a pass
	 * recorded meanwhile (count first, metrics_monitor_pass) then never
	 * shows a bucket above +Inf.
	 */
	for (b = 0; b < METRICS_MBUCKETS; b++)
		bucket[b] = atomic_load(&metrics->mon_bucket[b]);
	n = atomic_load(&metrics->mon_passes);
	v = atomic_load(&metrics->mon_sum_us);
	rc |= buf_printf(o,
	    "# HELP waba_monitor_passes_total Health monitor passes "
	    "recorded (the pool's monitor child, or waba-connect-admin "
	    "monitor).\n# TYPE waba_monitor_passes_total counter\n"
	    "waba_monitor_passes_total %lld\n"
	    "# HELP waba_monitor_pass_failures_total Passes in which a check "
	    "failed.\n# TYPE waba_monitor_pass_failures_total counter\n"
	    "waba_monitor_pass_failures_total %lld\n"
	    "# HELP waba_monitor_last_pass_timestamp_seconds When the last "
	    "pass ended, Unix time; 0: none recorded.\n"
	    "# TYPE waba_monitor_last_pass_timestamp_seconds gauge\n"
	    "waba_monitor_last_pass_timestamp_seconds %lld\n"
	    "# HELP waba_monitor_pass_duration_seconds How long each pass "
	    "took.\n# TYPE waba_monitor_pass_duration_seconds histogram\n",
	    n, atomic_load(&metrics->mon_failed),
	    atomic_load(&metrics->mon_last_end));
	for (b = 0; b < METRICS_MBUCKETS; b++)
		rc |= buf_printf(o,
		    "waba_monitor_pass_duration_seconds_bucket{le=\"%s\"} "
		    "%lld\n",
		    metrics_mbounds_s[b], bucket[b]);
	rc |= buf_printf(o,
	    "waba_monitor_pass_duration_seconds_bucket{le=\"+Inf\"} %lld\n"
	    "waba_monitor_pass_duration_seconds_sum %lld.%06lld\n"
	    "waba_monitor_pass_duration_seconds_count %lld\n",
	    n, v / 1000000, v % 1000000, n);
	return rc == 0 ? 0 : -1;
}

int
metrics_render(struct buf *o, const struct metrics_gate *g,
    const struct metrics_ws *ws)
{
	static const char *const graph_labels[] = { "endpoint", "outcome" };
	static const char *const one_label[] = { "outcome" };
	int                      rc = 0;

	if (metrics == NULL)
		return buf_puts(o, "# no shared metrics in this process\n");
	rc |= metrics_render_requests(o);
	rc |= metrics_render_keys(o, 'g', "waba_graph_calls_total",
	    "Graph API attempts and refusals, by endpoint and outcome.",
	    graph_labels, 2);
	rc |= metrics_render_keys(o, 'w', "waba_webhook_deliveries_total",
	    "POST /webhooks/meta, by outcome.", one_label, 1);
	rc |= metrics_render_keys(o, 's', "waba_sends_total",
	    "Outbox sends, by outcome.", one_label, 1);
	if (g != NULL)
		rc |= buf_printf(o,
		    "# HELP waba_meta_bulkhead_in_use Meta calls in flight "
		    "now.\n# TYPE waba_meta_bulkhead_in_use gauge\n"
		    "waba_meta_bulkhead_in_use %d\n"
		    "# HELP waba_meta_bulkhead_capacity [meta] "
		    "max_concurrent_calls in effect.\n"
		    "# TYPE waba_meta_bulkhead_capacity gauge\n"
		    "waba_meta_bulkhead_capacity %d\n"
		    "# HELP waba_meta_breaker_state The circuit breaker: 0 "
		    "closed, 1 open, 2 half-open.\n"
		    "# TYPE waba_meta_breaker_state gauge\n"
		    "waba_meta_breaker_state %d\n",
		    g->in_use, g->capacity, g->breaker);
	if (ws != NULL && ws->known)
		rc |= buf_printf(o,
		    "# HELP waba_workspaces Workspaces by connection status.\n"
		    "# TYPE waba_workspaces gauge\n"
		    "waba_workspaces{status=\"not_connected\"} %ld\n"
		    "waba_workspaces{status=\"pending_phone_selection\"} %ld\n"
		    "waba_workspaces{status=\"connected\"} %ld\n"
		    "waba_workspaces{status=\"needs_reconnect\"} %ld\n",
		    ws->not_connected, ws->pending, ws->connected,
		    ws->needs_reconnect);
	rc |= metrics_render_monitor(o);
	if (atomic_load(&metrics->outbox_set))
		rc |= buf_printf(o,
		    "# HELP waba_outbox_depth Messages queued in the outbox.\n"
		    "# TYPE waba_outbox_depth gauge\nwaba_outbox_depth %lld\n",
		    atomic_load(&metrics->outbox_depth));
	return rc == 0 ? 0 : -1;
}
