#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "../../src/request.h"
#include "../../src/router.h"
#include "harness.h"

static int fa(struct ctx *c) { (void)c; return 0; }
static int fb(struct ctx *c) { (void)c; return 0; }
static int fc(struct ctx *c) { (void)c; return 0; }

static const struct route table[] = {
	{ REQ_GET, "/healthz", fa, 0 },
	{ REQ_GET, "/w/{slug}/settings/whatsapp", fb, 0 },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/connect", fc, 0 },
	{ REQ_GET | REQ_POST, "/login", fa, 0 },
};
#define N (sizeof(table) / sizeof(table[0]))

static const struct route *
match(int m, const char *path, char *slug, int *status, int *allowed)
{
	return router_match(table, N, m, path, slug, status, allowed);
}

static void
test_literal(void)
{
	char	 slug[64];
	int	 st = 0, al;
	const struct route *r;

	r = match(REQ_GET, "/healthz", slug, &st, &al);
	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_PTR_EQUAL(r ? r->fn : NULL, fa);
	/* HEAD is answered by the GET route. */
	CU_ASSERT_PTR_NOT_NULL(match(REQ_HEAD, "/healthz", slug, &st, &al));
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/healthz/", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/health", slug, &st, &al));
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/healthzz", slug, &st, &al));
	CU_ASSERT_PTR_NULL(match(REQ_GET, "", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
}

static void
test_slug(void)
{
	char	 slug[64];
	int	 st, al;
	const struct route *r;

	r = match(REQ_GET, "/w/acme-1/settings/whatsapp", slug, &st, &al);
	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_STRING_EQUAL(slug, "acme-1");
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/w/Acme/settings/whatsapp", slug,
	    &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/w//settings/whatsapp", slug, &st,
	    &al));
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/w/a_b/settings/whatsapp", slug,
	    &st, &al));
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/w/../settings/whatsapp", slug,
	    &st, &al));
	{
		char path[128];
		snprintf(path, sizeof(path), "/w/%.63s/settings/whatsapp",
		    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0");
		CU_ASSERT_PTR_NOT_NULL(match(REQ_GET, path, slug, &st, &al));
		CU_ASSERT_EQUAL(strlen(slug), 63);
		snprintf(path, sizeof(path), "/w/%.64s/settings/whatsapp",
		    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01");
		CU_ASSERT_PTR_NULL(match(REQ_GET, path, slug, &st, &al));
		CU_ASSERT_EQUAL(st, 404);
	}
}

static void
test_method(void)
{
	char	 slug[64];
	int	 st, al;

	CU_ASSERT_PTR_NULL(match(REQ_POST, "/healthz", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 405);
	CU_ASSERT_EQUAL(al, REQ_GET);
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/w/a/settings/whatsapp/connect",
	    slug, &st, &al));
	CU_ASSERT_EQUAL(st, 405);
	CU_ASSERT_EQUAL(al, REQ_POST);
	CU_ASSERT_PTR_NULL(match(REQ_OTHER, "/login", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 405);
	CU_ASSERT_EQUAL(al, REQ_GET | REQ_POST);
	CU_ASSERT_PTR_NOT_NULL(match(REQ_POST, "/login", slug, &st, &al));
}

static const struct ut_test tests[] = {
	{ "literal paths", test_literal },
	{ "slug segments", test_slug },
	{ "405 with allowed methods", test_method },
	{ NULL, NULL }
};

const struct ut_suite ut_suites[] = {
	{ "router", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL }
};
