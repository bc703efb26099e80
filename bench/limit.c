/*
 * The "limit" of issue 14's benchmark: the settings page's own SQL (the
 * gate's statement and store_conn_page's, as bench/suite.py read them
 * from the server's general log) run from a bare C client with
 * libmariadb prepared statements, over as many connections as the pool
 * has workers. What MariaDB allows for this page, with no HTTP, no
 * FastCGI, no template: the settings page's ceiling.
 *
 * usage: limit SOCKET USER PASSWORD SQLFILE SESSIONS CONNS SECONDS
 *   SQLFILE: line 1 the gate's statement, line 2 the page's with `@DB@`
 *   SESSIONS: lines "slug db_name sha256-of-session-id-hex"
 * Prints one JSON object: rps, p50, p99, max (ms), n, errors.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sess {
	char          slug[64], db[64];
	unsigned char hash[32];
};

static const char  *sock, *user, *pass;
static char         gate_sql[16384], page_sql[16384];
static struct sess *sessions;
static int          nsess, seconds;

struct worker {
	pthread_t t;
	double   *lat;
	size_t    n, cap;
	long      errors;
	unsigned  seed;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The page's statement for db, with `@DB@` replaced. */
static void
page_for(const char *db, char *out, size_t len)
{
	const char *p = page_sql, *m;
	size_t      used = 0;

	while ((m = strstr(p, "@DB@")) != NULL) {
		used += snprintf(out + used, len - used, "%.*s%s", (int)(m - p),
		    p, db);
		p = m + 4;
	}
	snprintf(out + used, len - used, "%s", p);
}

static int
run_stmt(MYSQL_STMT *st)
{
	if (mysql_stmt_execute(st) || mysql_stmt_store_result(st))
		return -1;
	mysql_stmt_free_result(st);
	return 0;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	MYSQL         *c = mysql_init(NULL);
	MYSQL_STMT    *gate, **page;
	MYSQL_BIND     b[4];
	char           sql[20000];
	unsigned long  slen, hlen = 32;
	long long      idle = 1440, hours = 10000;
	double         end, t0;
	int            i;

	if (!mysql_real_connect(c, NULL, user, pass, NULL, 0, sock, 0)) {
		fprintf(stderr, "connect: %s\n", mysql_error(c));
		exit(1);
	}
	gate = mysql_stmt_init(c);
	if (mysql_stmt_prepare(gate, gate_sql, strlen(gate_sql))) {
		fprintf(stderr, "prepare gate: %s\n", mysql_stmt_error(gate));
		exit(1);
	}
	page = calloc(nsess, sizeof(*page));
	end = now() + seconds;
	while ((t0 = now()) < end) {
		i = rand_r(&w->seed) % nsess;
		memset(b, 0, sizeof(b));
		slen = strlen(sessions[i].slug);
		b[0].buffer_type = MYSQL_TYPE_STRING;
		b[0].buffer = sessions[i].slug;
		b[0].length = &slen;
		b[1].buffer_type = MYSQL_TYPE_BLOB;
		b[1].buffer = sessions[i].hash;
		b[1].length = &hlen;
		b[2].buffer_type = MYSQL_TYPE_LONGLONG;
		b[2].buffer = &idle;
		b[3].buffer_type = MYSQL_TYPE_LONGLONG;
		b[3].buffer = &hours;
		if (mysql_stmt_bind_param(gate, b) || run_stmt(gate)) {
			w->errors++;
			continue;
		}
		/* Prepared once per connection and workspace, as the pool. */
		if (page[i] == NULL) {
			page_for(sessions[i].db, sql, sizeof(sql));
			page[i] = mysql_stmt_init(c);
			if (mysql_stmt_prepare(page[i], sql, strlen(sql))) {
				fprintf(stderr, "prepare page: %s\n",
				    mysql_stmt_error(page[i]));
				exit(1);
			}
		}
		if (run_stmt(page[i])) {
			w->errors++;
			continue;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			w->lat = realloc(w->lat, w->cap * sizeof(double));
		}
		w->lat[w->n++] = (now() - t0) * 1000;
	}
	mysql_close(c);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
read_line(FILE *f, char *buf, size_t len)
{
	if (fgets(buf, len, f) == NULL) {
		fprintf(stderr, "short SQL file\n");
		exit(1);
	}
	buf[strcspn(buf, "\n")] = 0;
}

int
main(int argc, char **argv)
{
	FILE          *f;
	char           hex[80];
	int            conns, i, k, cap = 0;
	struct worker *w;
	double        *all, t0;
	size_t         n = 0;
	long           errors = 0;

	if (argc != 8) {
		fprintf(stderr,
		    "usage: limit SOCKET USER PASSWORD SQLFILE "
		    "SESSIONS CONNS SECONDS\n");
		return 2;
	}
	sock = argv[1], user = argv[2], pass = argv[3];
	conns = atoi(argv[6]), seconds = atoi(argv[7]);
	if ((f = fopen(argv[4], "r")) == NULL)
		return 1;
	read_line(f, gate_sql, sizeof(gate_sql));
	read_line(f, page_sql, sizeof(page_sql));
	fclose(f);
	if ((f = fopen(argv[5], "r")) == NULL)
		return 1;
	for (;;) {
		if (nsess == cap)
			sessions = realloc(sessions,
			    (cap = cap ? cap * 2 : 1024) * sizeof(*sessions));
		if (fscanf(f, "%63s %63s %79s", sessions[nsess].slug,
		        sessions[nsess].db, hex) != 3)
			break;
		for (k = 0; k < 32; k++)
			sscanf(hex + 2 * k, "%2hhx", &sessions[nsess].hash[k]);
		nsess++;
	}
	fclose(f);
	mysql_library_init(0, NULL, NULL);
	w = calloc(conns, sizeof(*w));
	t0 = now();
	for (i = 0; i < conns; i++) {
		w[i].seed = 1234 + i;
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	for (i = 0; i < conns; i++) {
		pthread_join(w[i].t, NULL);
		n += w[i].n;
		errors += w[i].errors;
	}
	t0 = now() - t0;
	all = malloc((n + 1) * sizeof(double));
	for (n = 0, i = 0; i < conns; i++) {
		memcpy(all + n, w[i].lat, w[i].n * sizeof(double));
		n += w[i].n;
	}
	qsort(all, n, sizeof(double), cmp);
	printf("{\"rps\": %.1f, \"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f, "
	       "\"n\": %zu, \"errors\": %ld}\n",
	    n / t0, n ? all[n / 2] : 0, n ? all[n * 99 / 100] : 0,
	    n ? all[n - 1] : 0, n, errors);
	return 0;
}
