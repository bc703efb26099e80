/*
 * Issue 8 item 14: no copy of a password or token is left in freed
 * memory by the code that reads them (form decoding, the config file
 * and secret files, the tokener that parses Meta's answers).
 *
 * This program interposes realloc() and free() (the FastCGI code and
 * json-c both reach them through the dynamic linker): before a block is
 * moved or freed, its whole usable size is searched for a marker that
 * only the secrets of these tests contain. A realloc of a block holding
 * the marker is a copy left behind; so is a free of one not wiped.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <fcgiapp.h>

#include "../../src/buf.h"
#include "../../src/config.h"
#include "../../src/graph.h"
#include "../../src/request.h"
#include "harness.h"

#define MARKER "Zq7MARKERsecretXw"

/* A sanitizer intercepts these itself: this check is for normal builds. */
#if defined(__SANITIZE_ADDRESS__)
#define INTERPOSE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define INTERPOSE 0
#endif
#endif
#ifndef INTERPOSE
#define INTERPOSE 1
#endif

static int watching;
static int moved, freed;

#if INTERPOSE
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static int
holds_marker(void *p)
{
	return p != NULL &&
	    memmem(p, malloc_usable_size(p), MARKER, sizeof(MARKER) - 1) !=
	    NULL;
}

void *
realloc(void *p, size_t n)
{
	if (real_realloc == NULL)
		real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT,
		    "realloc");
	if (watching && holds_marker(p))
		moved++;
	return real_realloc(p, n);
}

void
free(void *p)
{
	static int resolving;

	if (real_free == NULL) {
		if (resolving)
			return; /* dlsym's own bookkeeping: leaked */
		resolving = 1;
		real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
		resolving = 0;
	}
	if (watching && holds_marker(p))
		freed++;
	real_free(p);
}
#endif

static void
watch(void)
{
	moved = freed = 0;
	watching = 1;
}

static void
unwatch(const char *what)
{
	watching = 0;
	if (moved || freed)
		fprintf(stderr,
		    "\n%s: %d realloc(s) and %d free(s) of a "
		    "block holding the secret\n",
		    what, moved, freed);
	CU_ASSERT_EQUAL(moved, 0);
	CU_ASSERT_EQUAL(freed, 0);
}

/*
 * A long secret, so any growing buffer has to grow while reading it,
 * with the marker all along it: a copy cut short or partly overwritten
 * (json-c reuses its buffer for the next string) is still found.
 */
static void
long_secret(struct buf *b, int n, const char *pct)
{
	int i;

	for (i = 0; i < n; i++) {
		if (i % 200 == 0)
			buf_puts(b, MARKER);
		buf_puts(b, pct && i % 7 == 3 ? pct : "p");
	}
}

static void
test_form(void)
{
	struct buf    body = BUF_INIT;
	struct kvlist l = { NULL, 0 };
	char          why[128];

	buf_puts(&body, "email=a%40example.com&password=");
	long_secret(&body, 3000, "%41");
	buf_puts(&body, "&csrf_token=x");
	watch();
	CU_ASSERT_EQUAL(req_parse_urlencoded(body.data, body.len, &l, why,
	                    sizeof(why)),
	    REQ_OK);
	CU_ASSERT_PTR_NOT_NULL(kv_get(&l, "password"));
	kv_free(&l);
	unwatch("form decoding");
	buf_free_secret(&body);
}

/*
 * A FastCGI stdin that hands the body over in pieces of 1000 bytes, as
 * the web server's records would. The body is longer than the 8 KiB
 * req_read_body reads at a time: it must not grow its buffer per read.
 */
static struct buf feed;
static size_t     fed;

static void
feed_fill(FCGX_Stream *st)
{
	size_t n = feed.len - fed < 1000 ? feed.len - fed : 1000;

	st->rdNext = (unsigned char *)feed.data + fed;
	st->stop = st->rdNext + n;
	fed += n;
	if (n == 0)
		st->isClosed = 1;
}

static void
test_request_body(void)
{
	FCGX_Stream  in;
	FCGX_Request f;
	struct req   r;
	char         cl[32], why[128];
	char        *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/login",
		       "CONTENT_TYPE=application/x-www-form-urlencoded", cl, NULL };

	buf_init(&feed);
	buf_puts(&feed, "email=a%40example.com&password=");
	long_secret(&feed, 20000, "%41");
	fed = 0;
	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", feed.len);
	memset(&in, 0, sizeof(in));
	in.isReader = 1;
	in.fillBuffProc = feed_fill;
	memset(&f, 0, sizeof(f));
	f.envp = env;
	f.in = &in;
	watch();
	CU_ASSERT_EQUAL(req_init(&r, &f, "", why, sizeof(why)), REQ_OK);
	CU_ASSERT_EQUAL(req_read_body(&r, 1 << 20, 1, why, sizeof(why)),
	    REQ_OK);
	CU_ASSERT_EQUAL(r.body.len, feed.len);
	CU_ASSERT_PTR_NOT_NULL(kv_get(&r.form, "password"));
	req_free(&r);
	unwatch("request body and form");
	buf_free_secret(&feed);
}

static void
test_config_files(void)
{
	char           conf[] = "/tmp/waba-sec-XXXXXX";
	char           sfile[] = "/tmp/waba-sec-XXXXXX", err[512];
	struct buf     s = BUF_INIT;
	struct config *c;
	FILE          *f;
	int            fd;

	long_secret(&s, 6000, NULL);
	CU_ASSERT_FATAL((fd = mkstemp(sfile)) >= 0);
	CU_ASSERT_FATAL(write(fd, s.data, s.len) == (ssize_t)s.len);
	close(fd);
	CU_ASSERT_FATAL((fd = mkstemp(conf)) >= 0);
	f = fdopen(fd, "w");
	fprintf(f,
	    "[server]\nbase_url = http://127.0.0.1:8080/\n"
	    "[database]\nuser = waba\npassword = %s\n"
	    "[crypto]\nkey_ring_file = /tmp/k\n"
	    "[meta]\napp_id = 1234\napp_secret_file = %s\n"
	    "webhook_verify_token = vt\n",
	    s.data, sfile);
	fclose(f);

	watch();
	c = config_load(conf, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(c);
	if (c == NULL)
		fprintf(stderr, "\n%s\n", err);
	else {
		CU_ASSERT_STRING_EQUAL(c->db_password, s.data);
		CU_ASSERT_STRING_EQUAL(c->app_secret, s.data);
	}
	config_free(c);
	unwatch("config and secret file");
	unlink(conf);
	unlink(sfile);
	buf_free_secret(&s);
}

static void
test_graph_token(void)
{
	struct buf       body = BUF_INIT, tok = BUF_INIT;
	struct graph_err ge;
	long             expires = 0;

	buf_puts(&body, "{\"access_token\":\"");
	long_secret(&body, 3000, NULL);
	buf_puts(&body, "\",\"token_type\":\"bearer\",\"expires_in\":5183944}");
	memset(&ge, 0, sizeof(ge));
	watch();
	CU_ASSERT_EQUAL(graph_parse_access_token(body.data, body.len, &tok,
	                    &expires, &ge),
	    0);
	CU_ASSERT_EQUAL(expires, 5183944);
	CU_ASSERT_EQUAL(strncmp(buf_str(&tok), MARKER, sizeof(MARKER) - 1), 0);
	buf_free_secret(&tok);
	unwatch("Graph answer with a token");
	buf_free_secret(&body);
}

/* The interposition cannot run under a sanitizer's allocator. */
static int
before_secrets(void)
{
	return INTERPOSE ? 0 : UT_SKIP;
}

static const struct ut_test tests[] = { { "form decoding", test_form },
	{ "request body and form", test_request_body },
	{ "config and secret file", test_config_files },
	{ "Graph answer with a token", test_graph_token }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "secrets", before_secrets, NULL, NULL,
	                                  tests },
	{ NULL, NULL, NULL, NULL, NULL } };
