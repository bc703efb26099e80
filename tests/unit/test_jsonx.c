/* jsonx: the tokener that parses Meta's answers leaves no token behind. */
#include <string.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "../../src/buf.h"
#include "../../src/jsonx.h"
#include "harness.h"

#define TOKEN_LEN	3000

/* {"access_token":"EAAB…"} with a token long enough to need growing. */
static void
answer(struct buf *b)
{
	int	 i;

	buf_puts(b, "{\"access_token\":\"EAAB");
	for (i = 4; i < TOKEN_LEN; i++)
		buf_putc(b, (char)('a' + i % 26));
	buf_puts(b, "\",\"token_type\":\"bearer\"}");
}

static int
all_zero(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
test_tokener_never_moves(void)
{
	struct buf		 b = BUF_INIT;
	struct json_tokener	*tok;
	struct json_object	*o, *v;
	char			*before;
	int			 size;

	answer(&b);
	/*
	 * The hazard, so this test can tell: json-c's own tokener starts
	 * small and reallocs its string buffer while reading the token.
	 */
	tok = json_tokener_new_ex(8);
	before = tok->pb->buf;
	size = tok->pb->size;
	o = json_tokener_parse_ex(tok, b.data, (int)b.len);
	CU_ASSERT_PTR_NOT_NULL(o);
	CU_ASSERT(tok->pb->buf != before || tok->pb->size != size);
	json_object_put(o);
	json_tokener_free(tok);

	/* Ours has room up front: the buffer is where it was. */
	tok = jx_tokener_new(8, b.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	before = tok->pb->buf;
	size = tok->pb->size;
	CU_ASSERT(size > (int)b.len);
	o = json_tokener_parse_ex(tok, b.data, (int)b.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(json_tokener_get_error(tok), json_tokener_success);
	CU_ASSERT_PTR_EQUAL(tok->pb->buf, before);
	CU_ASSERT_EQUAL(tok->pb->size, size);
	CU_ASSERT(json_object_object_get_ex(o, "access_token", &v));
	CU_ASSERT_EQUAL(json_object_get_string_len(v), TOKEN_LEN);
	/* What the token left in the buffer is gone once wiped. */
	CU_ASSERT(memmem(tok->pb->buf, (size_t)tok->pb->size,
	    strstr(b.data, "EAAB") + 100, 40) != NULL);
	jx_tokener_wipe(tok);
	CU_ASSERT(all_zero(tok->pb->buf, (size_t)tok->pb->size));
	json_object_put(o);
	jx_tokener_free(tok);
	buf_free(&b);
}

static void
test_tokener_escapes(void)
{
	/* \u escapes decode shorter than they are written: still in place. */
	const char		*s = "{\"t\":\"\\u00e9\\ud83d\\ude00\\n\"}";
	struct json_tokener	*tok;
	struct json_object	*o, *v;
	char			*before;

	tok = jx_tokener_new(8, strlen(s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	before = tok->pb->buf;
	o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_PTR_EQUAL(tok->pb->buf, before);
	CU_ASSERT(json_object_object_get_ex(o, "t", &v));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(v),
	    "\xc3\xa9\xf0\x9f\x98\x80\n");
	json_object_put(o);
	jx_tokener_free(tok);
}

static const struct ut_test tests[] = {
	{ "tokener buffer never moves", test_tokener_never_moves },
	{ "tokener with escapes", test_tokener_escapes },
	{ NULL, NULL }
};

const struct ut_suite ut_suites[] = {
	{ "jsonx", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL }
};
