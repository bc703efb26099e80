/*
 * router and input: the route table is matched exactly (404, 405 with
 * Allow, {slug} checked), and declared fields are checked by their type
 * and need before any handler could see them.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "../../src/request.h"
#include "../../src/input.h"
#include "../../src/router.h"
#include "harness.h"

static enum answer
fa(struct ctx *c)
{
	(void)c;
	return ANSWERED;
}
static enum answer
fb(struct ctx *c)
{
	(void)c;
	return ANSWERED;
}
static enum answer
fc(struct ctx *c)
{
	(void)c;
	return ANSWERED;
}

static const struct route table[] = {
	{ REQ_GET, "/healthz", fa, 0, ROUTE_PAGE, NULL, { { 0 } } },
	{ REQ_GET, "/w/{slug}/settings/whatsapp", fb, 0, ROUTE_PAGE, NULL,
	    { { 0 } } },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/connect", fc, 0, ROUTE_PAGE,
	    NULL, { { 0 } } },
	{ REQ_GET | REQ_POST, "/login", fa, 0, ROUTE_PAGE, NULL, { { 0 } } },
};
#define N (sizeof(table) / sizeof(table[0]))

/*
 * Status, allowed and slug are reset before every call, so no assertion
 * can pass on what an earlier call left behind.
 */
static const struct route *
match(int m, const char *path, char *slug, int *status, int *allowed)
{
	*status = -1;
	*allowed = -1;
	strcpy(slug, "stale");
	struct req_var var;

	return router_match(table, N, m, path, slug, &var, status, allowed);
}

static void
test_literal(void)
{
	char                slug[64];
	int                 st = 0, al;
	const struct route *r;

	r = match(REQ_GET, "/healthz", slug, &st, &al);
	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_PTR_EQUAL(r ? r->fn : NULL, fa);
	/* HEAD is answered by the GET route. */
	CU_ASSERT_PTR_NOT_NULL(match(REQ_HEAD, "/healthz", slug, &st, &al));
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/healthz/", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/health", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_PTR_NULL(match(REQ_GET, "/healthzz", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_EQUAL(al, 0);
	CU_ASSERT_PTR_NULL(match(REQ_GET, "", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
}

static void
test_slug(void)
{
	char                slug[64];
	int                 st, al;
	const struct route *r;

	r = match(REQ_GET, "/w/acme-1/settings/whatsapp", slug, &st, &al);
	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_STRING_EQUAL(slug, "acme-1");
	CU_ASSERT_PTR_NULL(
	    match(REQ_GET, "/w/Acme/settings/whatsapp", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_PTR_NULL(
	    match(REQ_GET, "/w//settings/whatsapp", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_STRING_EQUAL(slug, "");
	CU_ASSERT_PTR_NULL(
	    match(REQ_GET, "/w/a_b/settings/whatsapp", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	CU_ASSERT_PTR_NULL(
	    match(REQ_GET, "/w/../settings/whatsapp", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
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
	char slug[64];
	int  st, al;

	CU_ASSERT_PTR_NULL(match(REQ_POST, "/healthz", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 405);
	CU_ASSERT_EQUAL(al, REQ_GET);
	CU_ASSERT_PTR_NULL(
	    match(REQ_GET, "/w/a/settings/whatsapp/connect", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 405);
	CU_ASSERT_EQUAL(al, REQ_POST);
	CU_ASSERT_PTR_NULL(match(REQ_OTHER, "/login", slug, &st, &al));
	CU_ASSERT_EQUAL(st, 405);
	CU_ASSERT_EQUAL(al, REQ_GET | REQ_POST);
	CU_ASSERT_PTR_NOT_NULL(match(REQ_POST, "/login", slug, &st, &al));
}

/*
 * A {name} segment is captured as sent, bounded, for its declared
 * IN_PATH field to check; its name comes from the pattern.
 */
static void
test_var_segment(void)
{
	static const struct route t[] = {
		{ REQ_POST, "/w/{slug}/n/{phone_number_id}/default", fa, 0,
		    ROUTE_PAGE, NULL, { { 0 } } },
		{ REQ_GET, "/w/{slug}/n", fb, 0, ROUTE_PAGE, NULL, { { 0 } } },
	};
	struct req_var var;
	char           slug[64], path[600], seg[520];
	int            st, al;

	CU_ASSERT_PTR_EQUAL(router_match(t, 2, REQ_POST,
	                        "/w/acme/n/1065403/default", slug, &var, &st,
	                        &al),
	    &t[0]);
	CU_ASSERT_STRING_EQUAL(slug, "acme");
	CU_ASSERT_STRING_EQUAL(var.name, "phone_number_id");
	CU_ASSERT_STRING_EQUAL(var.value, "1065403");
	/* Another route leaves no variable behind. */
	strcpy(var.name, "stale");
	CU_ASSERT_PTR_EQUAL(router_match(t, 2, REQ_GET, "/w/acme/n", slug, &var,
	                        &st, &al),
	    &t[1]);
	CU_ASSERT_STRING_EQUAL(var.name, "");
	/* Empty or over 512 bytes (a template name's most): no such path. */
	CU_ASSERT_PTR_NULL(router_match(t, 2, REQ_POST, "/w/acme/n//default",
	    slug, &var, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	memset(seg, '1', 513);
	seg[513] = '\0';
	snprintf(path, sizeof(path), "/w/acme/n/%s/default", seg);
	CU_ASSERT_PTR_NULL(
	    router_match(t, 2, REQ_POST, path, slug, &var, &st, &al));
	CU_ASSERT_EQUAL(st, 404);
	seg[512] = '\0';
	snprintf(path, sizeof(path), "/w/acme/n/%s/default", seg);
	CU_ASSERT_PTR_NOT_NULL(
	    router_match(t, 2, REQ_POST, path, slug, &var, &st, &al));
	CU_ASSERT_EQUAL(strlen(var.value), 512);
}

/* A request with one query and one form field, and a JSON body. */
static struct kv  qkv[1], fkv[1];
static struct req rq;

static void
set_req(const char *qk, const char *qv, const char *fk, const char *fv)
{
	memset(&rq, 0, sizeof(rq));
	qkv[0].key = (char *)qk;
	qkv[0].val = (char *)qv;
	qkv[0].len = qv ? strlen(qv) : 0;
	fkv[0].key = (char *)fk;
	fkv[0].val = (char *)fv;
	fkv[0].len = fv ? strlen(fv) : 0;
	rq.query.v = qkv;
	rq.query.n = qk ? 1 : 0;
	rq.form.v = fkv;
	rq.form.n = fk ? 1 : 0;
}

/* One field f, the value v in the form: the outcome of in_check. */
static enum in_err
check1(const struct in_field *f, const char *v, struct in_val *out)
{
	size_t      bad = 99;
	enum in_err e;

	set_req(NULL, NULL, f->name, v);
	e = in_check(f, 1, &rq, NULL, out, &bad);
	if (e != IN_OK)
		CU_ASSERT_EQUAL(bad, 0); /* the field is named */
	return e;
}

/* An IN_PATH field reads the segment its name names, and checks it. */
static void
test_in_path(void)
{
	struct in_field f = { "phone_number_id", IN_PATH, IN_DIGITS, 1, 32,
		NULL, 1, NULL };
	struct in_val   v;
	size_t          bad = 99;

	set_req(NULL, NULL, NULL, NULL);
	strcpy(rq.var.name, "phone_number_id");
	strcpy(rq.var.value, "106540352242922");
	CU_ASSERT_EQUAL(in_check(&f, 1, &rq, NULL, &v, &bad), IN_OK);
	CU_ASSERT_STRING_EQUAL(v.s, "106540352242922");
	strcpy(rq.var.value, "10654a");
	CU_ASSERT_EQUAL(in_check(&f, 1, &rq, NULL, &v, &bad), IN_INVALID);
	CU_ASSERT_EQUAL(bad, 0);
	strcpy(rq.var.name, "other");
	strcpy(rq.var.value, "1");
	CU_ASSERT_EQUAL(in_check(&f, 1, &rq, NULL, &v, &bad), IN_MISSING);
}

static void
test_in_digits(void)
{
	struct in_field f = { "pin", IN_FORM, IN_DIGITS, 6, 6, NULL, 1, NULL };
	struct in_val   v;

	CU_ASSERT_EQUAL(check1(&f, "123456", &v), IN_OK);
	CU_ASSERT(v.set);
	CU_ASSERT_STRING_EQUAL(v.s, "123456");
	CU_ASSERT_EQUAL(check1(&f, "12345", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&f, "1234567", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&f, "abcdef", &v), IN_INVALID);
	/* A form's empty input is not given: missing when required... */
	CU_ASSERT_EQUAL(check1(&f, "", &v), IN_MISSING);
	/* ...and unset when optional, not a bad value. */
	f.need = IN_OPTIONAL;
	CU_ASSERT_EQUAL(check1(&f, "", &v), IN_OK);
	CU_ASSERT(!v.set);
	CU_ASSERT_EQUAL(check1(&f, "12345", &v), IN_INVALID);
	f.need = IN_REQUIRED;
	/* Absent: refused when required, unset when optional. */
	set_req(NULL, NULL, "other", "1");
	{
		size_t bad = 99;

		CU_ASSERT_EQUAL(in_check(&f, 1, &rq, NULL, &v, &bad),
		    IN_MISSING);
		CU_ASSERT_EQUAL(bad, 0);
		f.need = IN_OPTIONAL;
		CU_ASSERT_EQUAL(in_check(&f, 1, &rq, NULL, &v, &bad), IN_OK);
		CU_ASSERT(!v.set);
	}
}

static void
test_in_e164_slug_printable(void)
{
	struct in_field e = { "to", IN_FORM, IN_E164, 0, 0, NULL, 1, NULL };
	struct in_field s = { "ws", IN_FORM, IN_SLUG, 0, 0, NULL, 1, NULL };
	struct in_field p = { "tok", IN_FORM, IN_PRINTABLE, 1, 8, NULL, 1,
		NULL };
	struct in_field t = { "txt", IN_FORM, IN_TEXT, 0, 4, NULL, 1, NULL };
	struct in_val   v;

	CU_ASSERT_EQUAL(check1(&e, "+4915112345678", &v), IN_OK);
	CU_ASSERT_STRING_EQUAL(v.s, "4915112345678"); /* without the + */
	CU_ASSERT_EQUAL(check1(&e, "4915112345678", &v), IN_OK);
	CU_ASSERT_EQUAL(check1(&e, "12ab", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&e, "0491511234", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&e, "1234567", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&e, "1234567890123456", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&s, "acme-1", &v), IN_OK);
	CU_ASSERT_EQUAL(check1(&s, "Acme", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&p, "EAAG.x_1", &v), IN_OK);
	CU_ASSERT_EQUAL(check1(&p, "a b", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&p, "123456789", &v), IN_INVALID);
	CU_ASSERT_EQUAL(check1(&t, "a b", &v), IN_OK);
	CU_ASSERT_EQUAL(check1(&t, "abcde", &v), IN_INVALID);
}

static void
test_in_hex_enum(void)
{
	static const char *const modes[] = { "subscribe", "other", NULL };
	struct in_field h = { "state", IN_QUERY, IN_HEX, 2, 2, NULL, 1, NULL };
	struct in_field m = { "hub.mode", IN_QUERY, IN_ENUM, 0, 0, modes, 1,
		NULL };
	struct in_val   v;
	size_t          bad;

	set_req("state", "0aFf", NULL, NULL);
	CU_ASSERT_EQUAL(in_check(&h, 1, &rq, NULL, &v, &bad), IN_OK);
	CU_ASSERT_EQUAL(v.binlen, 2);
	CU_ASSERT_EQUAL(v.bin[0], 0x0a);
	CU_ASSERT_EQUAL(v.bin[1], 0xff);
	set_req("state", "zz00", NULL, NULL);
	CU_ASSERT_EQUAL(in_check(&h, 1, &rq, NULL, &v, &bad), IN_INVALID);
	set_req("state", "0a0", NULL, NULL);
	CU_ASSERT_EQUAL(in_check(&h, 1, &rq, NULL, &v, &bad), IN_INVALID);
	/* A query field is not read from the form. */
	set_req(NULL, NULL, "state", "0aff");
	CU_ASSERT_EQUAL(in_check(&h, 1, &rq, NULL, &v, &bad), IN_MISSING);
	set_req("hub.mode", "other", NULL, NULL);
	CU_ASSERT_EQUAL(in_check(&m, 1, &rq, NULL, &v, &bad), IN_OK);
	CU_ASSERT_EQUAL(v.choice, 1);
	set_req("hub.mode", "unsubscribe", NULL, NULL);
	CU_ASSERT_EQUAL(in_check(&m, 1, &rq, NULL, &v, &bad), IN_INVALID);
}

static void
test_in_json(void)
{
	struct in_field fs[2] = {
		{ "name", IN_JSON, IN_PRINTABLE, 1, 10, NULL, 1, NULL },
		{ "meta", IN_JSON, IN_OBJECT, 0, 20, NULL, 0, NULL },
	};
	struct in_val       v[2];
	struct json_object *o;
	size_t              bad = 99;

	set_req(NULL, NULL, NULL, NULL);
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, NULL, v, &bad), IN_BODY);
	o = json_tokener_parse("{\"name\":\"abc\",\"meta\":{\"a\":1}}");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, o, v, &bad), IN_OK);
	CU_ASSERT_STRING_EQUAL(v[0].s, "abc");
	CU_ASSERT_PTR_NOT_NULL(v[1].obj);
	json_object_put(o);
	o = json_tokener_parse("{\"name\":\"abc\",\"meta\":{\"a\":"
	                       "\"0123456789012345\"}}");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, o, v, &bad), IN_INVALID);
	CU_ASSERT_EQUAL(bad, 1); /* too large, and named */
	json_object_put(o);
	o = json_tokener_parse("{\"name\":7}");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, o, v, &bad), IN_INVALID);
	CU_ASSERT_EQUAL(bad, 0);
	json_object_put(o);
	o = json_tokener_parse("[1]");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, o, v, &bad), IN_BODY);
	json_object_put(o);
}

/*
 * IN_IGNORE_BAD: a bad value is dropped (unset), not refused, and the
 * fields after it are still checked; a good one is kept.
 */
static void
test_in_ignore_bad(void)
{
	struct in_field fs[2] = {
		{ "m", IN_QUERY, IN_PRINTABLE, 0, 8, NULL, IN_IGNORE_BAD,
		    NULL },
		{ "pin", IN_FORM, IN_DIGITS, 6, 6, NULL, IN_REQUIRED, NULL },
	};
	struct in_field     j = { "m", IN_JSON, IN_PRINTABLE, 0, 8, NULL,
		    IN_IGNORE_BAD, NULL };
	struct in_val       v[2];
	struct json_object *o;
	size_t              bad = 99;

	set_req("m", "connected", "pin", "123456"); /* 9 > 8 bytes */
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, NULL, v, &bad), IN_OK);
	CU_ASSERT(!v[0].set);
	CU_ASSERT_PTR_NULL(v[0].s);
	CU_ASSERT(v[1].set);
	set_req("m", "a b", "pin", "123456");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, NULL, v, &bad), IN_OK);
	CU_ASSERT(!v[0].set);
	set_req("m", "verified", "pin", "123456");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, NULL, v, &bad), IN_OK);
	CU_ASSERT(v[0].set);
	CU_ASSERT_STRING_EQUAL(v[0].s, "verified");
	/* The next field is still checked after a dropped one. */
	set_req("m", "a b", "pin", "12345");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, NULL, v, &bad), IN_INVALID);
	CU_ASSERT_EQUAL(bad, 1);
	/* Absent is fine too. */
	set_req(NULL, NULL, "pin", "123456");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, NULL, v, &bad), IN_OK);
	CU_ASSERT(!v[0].set);
	/* The same in a JSON body: a wrong type is dropped. */
	o = json_tokener_parse("{\"m\":7}");
	CU_ASSERT_EQUAL(in_check(&j, 1, &rq, o, v, &bad), IN_OK);
	CU_ASSERT(!v[0].set);
	json_object_put(o);
	/* The same field declared optional is refused. */
	fs[0].need = IN_OPTIONAL;
	set_req("m", "a b", "pin", "123456");
	CU_ASSERT_EQUAL(in_check(fs, 2, &rq, NULL, v, &bad), IN_INVALID);
	CU_ASSERT_EQUAL(bad, 0);
}

/* The route kind is a declared property: a table says how it refuses. */
static void
test_route_kind(void)
{
	static const struct route api[] = {
		{ REQ_POST, "/api/v1/x", fa, 0, ROUTE_API, NULL,
		    { { "name", IN_JSON, IN_PRINTABLE, 1, 10, NULL, 1,
		        NULL } } },
		{ REQ_GET, "/page", fb, 0, ROUTE_PAGE, NULL, { { 0 } } },
	};
	const struct route *r;
	struct req_var      var;
	char                slug[64];
	int                 st, al;

	r = router_match(api, 2, REQ_POST, "/api/v1/x", slug, &var, &st, &al);
	CU_ASSERT_PTR_NOT_NULL(r);
	CU_ASSERT_EQUAL(r ? (int)r->kind : -1, (int)ROUTE_API);
	CU_ASSERT_EQUAL(r ? route_nfields(r) : 0, 1);
	r = router_match(api, 2, REQ_GET, "/page", slug, &var, &st, &al);
	CU_ASSERT_EQUAL(r ? (int)r->kind : -1, (int)ROUTE_PAGE);
	CU_ASSERT_EQUAL(r ? route_nfields(r) : 9, 0);
}

static const struct ut_test tests[] = { { "literal paths", test_literal },
	{ "slug segments", test_slug },
	{ "405 with allowed methods", test_method },
	{ "variable segments", test_var_segment },
	{ "declared field: digits, required/optional", test_in_digits },
	{ "declared field: path segment", test_in_path },
	{ "declared field: e164, slug, printable, text",
	    test_in_e164_slug_printable },
	{ "declared field: hex, enum", test_in_hex_enum },
	{ "declared field: JSON members and objects", test_in_json },
	{ "declared field: a bad cosmetic one is dropped", test_in_ignore_bad },
	{ "route kind is declared", test_route_kind }, { NULL, NULL } };

const struct ut_suite ut_suites[] = { { "router", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
