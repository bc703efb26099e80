/*
 * The request parsers (src/request.h) on what a client sends: a query
 * string or form body, a Cookie header, a path to percent-decode. What
 * they accept must keep the promises struct kv makes to the handlers:
 * values NUL-terminated with no NUL inside, valid UTF-8, keys unique.
 * Cookies: only ours (waba_*, __Host-waba_*) are kept, as many as the
 * header holds. log_escape() turns anything into printable ASCII that
 * decodes back to the input.
 */
#include <ctype.h>

#include "buf.h"
#include "fuzz.h"
#include "log.h"
#include "request.h"

static void
check_kvlist(const struct kvlist *l, int utf8, size_t max)
{
	size_t i;

	FUZZ_CHECK(l->n <= max);
	for (i = 0; i < l->n; i++) {
		FUZZ_CHECK(l->v[i].key != NULL && l->v[i].val != NULL);
		FUZZ_CHECK(l->v[i].key[0] != '\0');
		FUZZ_CHECK(strlen(l->v[i].key) <= REQ_MAX_KEY);
		FUZZ_CHECK(strlen(l->v[i].val) == l->v[i].len);
		if (utf8) {
			FUZZ_CHECK(
			    req_utf8_valid(l->v[i].key, strlen(l->v[i].key)));
			FUZZ_CHECK(req_utf8_valid(l->v[i].val, l->v[i].len));
		}
		/* Unique keys: a lookup finds this very pair. */
		FUZZ_CHECK(kv_get(l, l->v[i].key) == l->v[i].val);
	}
}

static int
hexval(int c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Printable ASCII only, and unambiguous: it decodes back to s. */
static void
check_log_escape(const char *s)
{
	static char out[4 * 4096 + 1];
	size_t      n, i, j = 0;

	if (strlen(s) > 4096)
		return;
	n = log_escape(out, sizeof(out), s);
	FUZZ_CHECK(n == strlen(out));
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
		if (out[i] == '\\') {
			FUZZ_CHECK(i + 3 < n && out[i + 1] == 'x' &&
			    isxdigit((unsigned char)out[i + 2]) &&
			    isxdigit((unsigned char)out[i + 3]));
			FUZZ_CHECK((unsigned char)s[j] ==
			    (hexval(out[i + 2]) << 4 | hexval(out[i + 3])));
			i += 3;
		} else
			FUZZ_CHECK(s[j] == out[i]);
		j++;
	}
	FUZZ_CHECK(s[j] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char   *s = (const char *)data;
	struct kvlist l = { NULL, 0 };
	struct buf    out = BUF_INIT;
	char          why[256], *cs;
	enum req_err  err;
	int           plus, rc;
	size_t        i;

	why[0] = '\0';
	err = req_parse_urlencoded(s, size, &l, why, sizeof(why));
	FUZZ_CHECK(err == REQ_OK || err == REQ_BAD_ENCODING ||
	    err == REQ_BAD_FIELDS || err == REQ_NOMEM);
	FUZZ_CHECK(FUZZ_TERMINATED(why));
	if (err == REQ_OK)
		check_kvlist(&l, 1, REQ_MAX_PAIRS);
	else
		FUZZ_CHECK(l.n == 0 && l.v == NULL && why[0] != '\0');
	kv_free(&l);

	cs = fuzz_cstr(data, size);
	req_parse_cookies(cs, &l);
	/* A pair takes at least "waba_x=" and a separator. */
	check_kvlist(&l, 0, size / 8 + 1);
	for (i = 0; i < l.n; i++)
		FUZZ_CHECK(strncmp(l.v[i].key, "waba_", 5) == 0 ||
		    strncmp(l.v[i].key, "__Host-waba_", 12) == 0);
	kv_free(&l);
	check_log_escape(cs);
	free(cs);

	for (plus = 0; plus <= 1; plus++) {
		rc = req_percent_decode(s, size, plus, &out);
		FUZZ_CHECK(rc == 0 || rc == -1);
		if (rc == 0) {
			FUZZ_CHECK(out.len <= size);
			FUZZ_CHECK(memchr(out.data, '\0', out.len) == NULL);
			FUZZ_CHECK(req_utf8_valid(out.data, out.len));
		}
	}
	buf_free(&out);

	/* Valid input stays valid when cut at a character boundary. */
	if (req_utf8_valid(s, size) && size > 0) {
		size_t cut = size - 1;

		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
		FUZZ_CHECK(req_utf8_valid(s, cut));
	}
	return 0;
}
