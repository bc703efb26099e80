/*
 * The template engine (src/template.h). The input is one to four
 * templates separated by NUL bytes, named main, a, b and c so that
 * {{>a}} finds one; they are compiled, and when that succeeds each is
 * rendered against a fixed context holding every JSON type and text
 * that needs escaping. The input is also escaped on its own, and what
 * tmpl_escape_html writes must hold none of the characters it escapes.
 *
 * Templates are ours, not outside input, but a page that loads must not
 * crash the worker whatever its text. Rendering is bounded by the
 * template (nested sections over arrays and partials multiply the
 * output), so inputs with many tags are compiled and not rendered,
 * keeping one run within memory.
 */
#include <json-c/json.h>

#include "buf.h"
#include "fuzz.h"
#include "template.h"

#define MAX_TEMPLATES   4
#define MAX_RENDER_TAGS 24 /* "{{" at most, to be rendered */

static const char ctx_json[] =
    "{\"title\":\"Settings <b>&amp;</b> \\\"quotes\\\" 'x' `y` =z\","
    "\"slug\":\"acme\",\"n\":42,\"pi\":3.5,\"zero\":0,\"yes\":true,"
    "\"no\":false,\"nil\":null,\"empty\":\"\",\"none\":[],"
    "\"items\":[{\"name\":\"one\",\"url\":\"/a?b=1&c=2\"},"
    "{\"name\":\"<two>\",\"ok\":true}],"
    "\"words\":[\"a\",\"b\"],"
    "\"user\":{\"email\":\"m@example.com\",\"name\":\"Ren\\u00e9\","
    "\"workspace\":{\"slug\":\"acme\",\"name\":\"Acme & Co\"}},"
    "\"conn\":{\"state\":\"connected\",\"phone\":\"+1 555 0100\","
    "\"warn\":[\"token expires in 3 days\"]}}";

static const char *const names[MAX_TEMPLATES] = { "main", "a", "b", "c" };

static size_t
count_tags(const uint8_t *data, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i + 1 < size; i++)
		if (data[i] == '{' && data[i + 1] == '{')
			n++;
	return n;
}

static void
check_escape(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT;
	size_t     i;

	FUZZ_CHECK(tmpl_escape_html(&out, (const char *)data, size) == 0);
	FUZZ_CHECK(out.len >= size);
	for (i = 0; i < out.len; i++)
		FUZZ_CHECK(strchr("<>\"'`=", out.data[i]) == NULL ||
		    out.data[i] == '\0');
	/* Every & starts an entity we wrote. */
	for (i = 0; i < out.len; i++)
		if (out.data[i] == '&')
			FUZZ_CHECK(
			    memchr(out.data + i, ';', out.len - i) != NULL &&
			    (out.data[i + 1] == '#' ||
			        strncmp(out.data + i, "&amp;", 5) == 0 ||
			        strncmp(out.data + i, "&lt;", 4) == 0 ||
			        strncmp(out.data + i, "&gt;", 4) == 0 ||
			        strncmp(out.data + i, "&quot;", 6) == 0));
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char               *copy, *srcs[MAX_TEMPLATES], err[512];
	struct tmpl_set    *set;
	struct json_object *ctx;
	struct buf          out = BUF_INIT;
	size_t              n = 0, i, mark;
	char               *p, *end;
	int                 rc;

	check_escape(data, size);

	copy = fuzz_cstr(data, size);
	for (p = copy, end = copy + size; n < MAX_TEMPLATES;) {
		srcs[n++] = p;
		p += strlen(p);
		if (p >= end)
			break;
		p++;
	}
	err[0] = '\0';
	set = tmpl_load_mem(names, (const char *const *)srcs, n, err,
	    sizeof(err));
	FUZZ_CHECK(FUZZ_TERMINATED(err));
	if (set == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		free(copy);
		return 0;
	}
	for (i = 0; i < n; i++)
		FUZZ_CHECK(tmpl_exists(set, names[i]));
	FUZZ_CHECK(!tmpl_exists(set, "missing"));

	if (count_tags(data, size) <= MAX_RENDER_TAGS) {
		if ((ctx = json_tokener_parse(ctx_json)) == NULL)
			abort();
		for (i = 0; i < n; i++) {
			buf_reset(&out);
			FUZZ_CHECK(buf_puts(&out, "prefix") == 0);
			mark = out.len;
			rc = tmpl_render(set, names[i], ctx, &out, err,
			    sizeof(err));
			FUZZ_CHECK(rc == 0 || rc == -1);
			/* Never half a page. */
			if (rc == -1)
				FUZZ_CHECK(out.len == mark &&
				    strcmp(out.data, "prefix") == 0);
			/* Nor with no context at all. */
			rc = tmpl_render(set, names[i], NULL, &out, err,
			    sizeof(err));
			FUZZ_CHECK(rc == 0 || rc == -1);
		}
		FUZZ_CHECK(tmpl_render(set, "missing", ctx, &out, err,
		               sizeof(err)) == -1);
		json_object_put(ctx);
	}
	buf_free(&out);
	tmpl_free(set);
	free(copy);
	return 0;
}
