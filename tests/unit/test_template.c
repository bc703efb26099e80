/*
 * Unit tests for the template engine. Every rendering is compared as an
 * exact string, so a stray byte of whitespace or a missed escape fails.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "buf.h"
#include "template.h"
#include "harness.h"

static struct buf out = BUF_INIT;
static char       err[512];

/*
 * Compiles names[0..n) -> srcs, renders `name` with the JSON text ctx
 * (NULL for no context) and returns the output, or "ERR: <message>" so a
 * failure shows up in the same string comparison.
 */
static const char *
render_set(const char *const *names, const char *const *srcs, size_t n,
    const char *name, const char *ctx)
{
	struct tmpl_set    *set;
	struct json_object *obj = NULL;
	int                 rc;

	buf_reset(&out);
	err[0] = '\0';
	if ((set = tmpl_load_mem(names, srcs, n, err, sizeof(err))) == NULL) {
		buf_printf(&out, "LOAD: %s", err);
		return buf_str(&out);
	}
	if (ctx != NULL && (obj = json_tokener_parse(ctx)) == NULL) {
		tmpl_free(set);
		return "BAD TEST JSON";
	}
	rc = tmpl_render(set, name, obj, &out, err, sizeof(err));
	if (rc == -1)
		buf_printf(&out, "ERR: %s", err);
	json_object_put(obj);
	tmpl_free(set);
	return buf_str(&out);
}

/* One template called "t". */
static const char *
render(const char *src, const char *ctx)
{
	const char *names[] = { "t" };

	return render_set(names, &src, 1, "t", ctx);
}

/* Returns the load error of names -> srcs, or "loaded" when none. */
static const char *
load_error_set(const char *const *names, const char *const *srcs, size_t n)
{
	struct tmpl_set *set;

	err[0] = '\0';
	if ((set = tmpl_load_mem(names, srcs, n, err, sizeof(err))) != NULL) {
		tmpl_free(set);
		return "loaded";
	}
	return err;
}

static const char *
load_error(const char *src)
{
	const char *names[] = { "t" };

	return load_error_set(names, &src, 1);
}

static void
test_escape_html(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_EQUAL(tmpl_escape_html(&b, "a<b>&\"'`=z", 10), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b),
	    "a&lt;b&gt;&amp;&quot;&#39;&#96;&#61;z");
	buf_reset(&b);
	/* Length is authoritative: stops before the second '<'. */
	CU_ASSERT_EQUAL(tmpl_escape_html(&b, "x<y<", 3), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "x&lt;y");
	buf_reset(&b);
	CU_ASSERT_EQUAL(tmpl_escape_html(&b, "", 0), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
	buf_free(&b);
}

static void
test_variables_escape(void)
{
	const char *ctx = "{\"v\": \"<a href='x'>&\\\"`=\"}";

	CU_ASSERT_STRING_EQUAL(render("[{{v}}]", ctx),
	    "[&lt;a href&#61;&#39;x&#39;&gt;&amp;&quot;&#96;&#61;]");
	CU_ASSERT_STRING_EQUAL(render("[{{{v}}}]", ctx), "[<a href='x'>&\"`=]");
	CU_ASSERT_STRING_EQUAL(render("[{{&v}}]", ctx), "[<a href='x'>&\"`=]");
	CU_ASSERT_STRING_EQUAL(render("[{{& v }}]", ctx),
	    "[<a href='x'>&\"`=]");
	CU_ASSERT_STRING_EQUAL(render("[{{ v }}]", "{\"v\":\"<\"}"), "[&lt;]");
	CU_ASSERT_STRING_EQUAL(render("[{{{ v }}}]", "{\"v\":\"<\"}"), "[<]");
}

static void
test_variables_values(void)
{
	const char *ctx =
	    "{\"s\":\"str\", \"t\":true, \"f\":false, "
	    "\"n\":null, \"o\":{\"a\":1}, \"a\":[1,2], \"e\":\"\"}";

	CU_ASSERT_STRING_EQUAL(render("{{s}}|{{t}}|{{f}}|{{n}}|{{o}}|{{a}}|"
	                              "{{e}}|{{missing}}",
	                           ctx),
	    "str|true||||||");
	CU_ASSERT_STRING_EQUAL(render("plain text only", NULL),
	    "plain text only");
	CU_ASSERT_STRING_EQUAL(render("a{{x}}b{{.}}c", NULL), "abc");
	CU_ASSERT_STRING_EQUAL(render("", "{}"), "");
	CU_ASSERT_STRING_EQUAL(render("{{x}}", "[1,2]"), "");
	CU_ASSERT_STRING_EQUAL(render("a } b }} c {", "{}"), "a } b }} c {");
}

static void
test_numbers(void)
{
	const char *sec = "{{#n}}[{{.}}]{{/n}}";

	CU_ASSERT_STRING_EQUAL(render("{{i}} {{neg}} {{zero}} {{big}}",
	                           "{\"i\":42, \"neg\":-7, \"zero\":0, "
	                           "\"big\":9007199254740993}"),
	    "42 -7 0 9007199254740993");
	CU_ASSERT_STRING_EQUAL(render("{{d}} {{h}}",
	                           "{\"d\":1.5, \"h\":-0.25}"),
	    "1.5 -0.25");
	CU_ASSERT_STRING_EQUAL(render(sec, "{\"n\":3}"), "[3]");
	CU_ASSERT_STRING_EQUAL(render(sec, "{\"n\":0}"), "");
	CU_ASSERT_STRING_EQUAL(render(sec, "{\"n\":0.0}"), "");
	CU_ASSERT_STRING_EQUAL(render("{{^n}}zero{{/n}}", "{\"n\":0}"), "zero");
}

static void
test_dotted_names(void)
{
	const char *ctx = "{\"a\":{\"b\":{\"c\":\"deep\"}, "
	                  "\"s\":\"x\"}, \"c\":\"top\"}";

	CU_ASSERT_STRING_EQUAL(render("{{a.b.c}}", ctx), "deep");
	CU_ASSERT_STRING_EQUAL(render("{{a.s}}", ctx), "x");
	CU_ASSERT_STRING_EQUAL(render("[{{a.b.missing}}]", ctx), "[]");
	CU_ASSERT_STRING_EQUAL(render("[{{a.s.x}}]", ctx), "[]");
	CU_ASSERT_STRING_EQUAL(render("[{{nope.b}}]", ctx), "[]");
	CU_ASSERT_STRING_EQUAL(render("{{#a.b}}{{c}}{{/a.b}}", ctx), "deep");
	/* Once "a" is found, the rest does not search outer contexts. */
	CU_ASSERT_STRING_EQUAL(render("[{{a.c}}]", ctx), "[]");
	CU_ASSERT_STRING_EQUAL(render("{{#a}}{{#b}}{{a.s}}{{/b}}{{/a}}", ctx),
	    "x");
}

static void
test_sections(void)
{
	CU_ASSERT_STRING_EQUAL(render("{{#l}}<{{.}}>{{/l}}",
	                           "{\"l\":[\"a\",\"b\",\"c\"]}"),
	    "<a><b><c>");
	CU_ASSERT_STRING_EQUAL(render("{{#l}}{{n}},{{/l}}",
	                           "{\"l\":[{\"n\":1},{\"n\":2}]}"),
	    "1,2,");
	CU_ASSERT_STRING_EQUAL(render("{{#o}}{{x}}-{{y}}{{/o}}",
	                           "{\"o\":{\"x\":\"X\",\"y\":\"Y\"}}"),
	    "X-Y");
	CU_ASSERT_STRING_EQUAL(render("{{#t}}yes{{/t}}{{#f}}no{{/f}}",
	                           "{\"t\":true,\"f\":false}"),
	    "yes");
	CU_ASSERT_STRING_EQUAL(render("[{{#e}}no{{/e}}]", "{\"e\":[]}"), "[]");
	CU_ASSERT_STRING_EQUAL(render("[{{#m}}no{{/m}}]", "{}"), "[]");
	CU_ASSERT_STRING_EQUAL(render("[{{#m}}no{{/m}}]", NULL), "[]");
	CU_ASSERT_STRING_EQUAL(render("[{{#n}}no{{/n}}]", "{\"n\":null}"),
	    "[]");
	CU_ASSERT_STRING_EQUAL(render("[{{#s}}no{{/s}}]", "{\"s\":\"\"}"),
	    "[]");
	CU_ASSERT_STRING_EQUAL(render("[{{#s}}<{{.}}>{{/s}}]",
	                           "{\"s\":\"hi&\"}"),
	    "[<hi&amp;>]");
	CU_ASSERT_STRING_EQUAL(render("{{#t}}{{.}}{{/t}}", "{\"t\":true}"),
	    "true");
	/* Nulls inside an array still iterate, rendering as nothing. */
	CU_ASSERT_STRING_EQUAL(render("{{#l}}[{{.}}]{{/l}}",
	                           "{\"l\":[null,1]}"),
	    "[][1]");
	CU_ASSERT_STRING_EQUAL(render("{{#l}}{{#.}}{{.}}{{/.}};{{/l}}",
	                           "{\"l\":[[1,2],[3]]}"),
	    "12;3;");
}

static void
test_inverted(void)
{
	const char *src = "{{^x}}none{{/x}}";

	CU_ASSERT_STRING_EQUAL(render(src, "{}"), "none");
	CU_ASSERT_STRING_EQUAL(render(src, NULL), "none");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":[]}"), "none");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":false}"), "none");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":null}"), "none");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":\"\"}"), "none");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":[1]}"), "");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":true}"), "");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":{}}"), "");
	CU_ASSERT_STRING_EQUAL(render(src, "{\"x\":\"a\"}"), "");
	CU_ASSERT_STRING_EQUAL(render("{{#l}}{{.}}{{/l}}{{^l}}empty{{/l}}",
	                           "{\"l\":[]}"),
	    "empty");
}

static void
test_nested_lookup(void)
{
	const char *ctx =
	    "{\"site\":\"S\", \"name\":\"outer\", "
	    "\"users\":[{\"name\":\"ann\", \"tags\":[\"x\",\"y\"]}, "
	    "{\"name\":\"bob\", \"site\":\"B\", \"tags\":[]}]}";

	CU_ASSERT_STRING_EQUAL(
	    render("{{#users}}{{name}}@{{site}}"
	           "{{#tags}}<{{.}}:{{name}}>{{/tags}}{{^tags}}-{{/tags}};"
	           "{{/users}}{{name}}",
	        ctx),
	    "ann@S<x:ann><y:ann>;bob@B-;outer");
}

static void
test_partials(void)
{
	const char *names[] = { "page", "item", "empty" };
	const char *srcs[] = {
		"<ul>{{#items}}{{>item}}{{/items}}</ul>{{>empty}}|{{> item}}",
		"<li>{{name}}@{{owner}}</li>", ""
	};
	const char *ctx = "{\"owner\":\"o&o\", \"name\":\"top\", "
	                  "\"items\":[{\"name\":\"a\"},{\"name\":\"b<\"}]}";

	CU_ASSERT_STRING_EQUAL(render_set(names, srcs, 3, "page", ctx),
	    "<ul><li>a@o&amp;o</li><li>b&lt;@o&amp;o</li></ul>"
	    "|<li>top@o&amp;o</li>");
	CU_ASSERT_STRING_EQUAL(render_set(names, srcs, 3, "item", ctx),
	    "<li>top@o&amp;o</li>");
	CU_ASSERT_STRING_EQUAL(render_set(names, srcs, 3, "empty", ctx), "");
}

static void
test_comments(void)
{
	CU_ASSERT_STRING_EQUAL(render("a{{! a comment }}b", "{}"), "ab");
	CU_ASSERT_STRING_EQUAL(render("a{{!\nmulti {{ line\n}}b", "{}"), "ab");
	CU_ASSERT_STRING_EQUAL(render("a{{!}}b", "{}"), "ab");
	/* Lines are still counted through a multi-line comment. */
	CU_ASSERT_STRING_EQUAL(load_error("{{!\n\n}}\n{{#x}}"),
	    "t.html:4: unclosed section \"x\"");
}

static void
test_standalone(void)
{
	const char *ctx = "{\"items\":[\"a\",\"b\"]}";

	CU_ASSERT_STRING_EQUAL(render("<ul>\n  {{#items}}\n  <li>{{.}}</li>\n"
	                              "  {{/items}}\n</ul>\n",
	                           ctx),
	    "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>\n");
	CU_ASSERT_STRING_EQUAL(render("<p>\n{{^items}}\nnone\n{{/items}}\n"
	                              "</p>\n",
	                           "{}"),
	    "<p>\nnone\n</p>\n");
	/* Comments, also multi-line, and tabs. */
	CU_ASSERT_STRING_EQUAL(render("a\n\t{{! note }}\t\nb\n{{!\nx\n}}\nc",
	                           "{}"),
	    "a\nb\nc");
	/* CRLF line ends, first line, last line without newline. */
	CU_ASSERT_STRING_EQUAL(render("{{#items}}\r\n{{.}}\r\n{{/items}}", ctx),
	    "a\r\nb\r\n");
	/* A standalone partial keeps the partial's own newlines only. */
	{
		const char *names[] = { "p", "row" };
		const char *srcs[] = { "<table>\n  {{>row}}\n</table>\n",
			"<tr>\n" };

		CU_ASSERT_STRING_EQUAL(render_set(names, srcs, 2, "p", "{}"),
		    "<table>\n<tr>\n</table>\n");
	}
	/* Not standalone: other text or a variable on the same line. */
	CU_ASSERT_STRING_EQUAL(render("x {{#items}}\n{{/items}} y\n", ctx),
	    "x \n\n y\n");
	CU_ASSERT_STRING_EQUAL(render("{{v}} {{#t}}\nA\n{{/t}}\n",
	                           "{\"v\":\"V\",\"t\":true}"),
	    "V \nA\n");
	/* Variables never make a line standalone. */
	CU_ASSERT_STRING_EQUAL(render("a\n  {{v}}\nb", "{}"), "a\n  \nb");
	/* Two block tags on one line: neither is standalone. */
	CU_ASSERT_STRING_EQUAL(render("{{#t}}{{/t}}\nz", "{\"t\":true}"),
	    "\nz");
}

static void
test_load_errors(void)
{
	CU_ASSERT_STRING_EQUAL(load_error("a\n{{#items}}\nb\n"),
	    "t.html:2: unclosed section \"items\"");
	CU_ASSERT_STRING_EQUAL(load_error("{{#a}}\n{{#b}}\n{{/b}}\n"),
	    "t.html:1: unclosed section \"a\"");
	CU_ASSERT_STRING_EQUAL(load_error("{{#a}}\n{{#b}}\n\n{{/a}}\n"),
	    "t.html:4: close \"a\" does not match open section \"b\"");
	CU_ASSERT_STRING_EQUAL(load_error("x\ny\n{{/a}}"),
	    "t.html:3: close \"a\" without open section");
	CU_ASSERT_STRING_EQUAL(load_error("a\n\nb {{name\n}"),
	    "t.html:3: unterminated tag");
	CU_ASSERT_STRING_EQUAL(load_error("\n{{{raw}}\n"),
	    "t.html:2: unterminated tag");
	CU_ASSERT_STRING_EQUAL(load_error("ok\n{{! never closed\n\n"),
	    "t.html:2: unterminated tag");
	CU_ASSERT_STRING_EQUAL(load_error("\n\n\n{{}}"),
	    "t.html:4: empty tag name");
	CU_ASSERT_STRING_EQUAL(load_error("{{ }}"), "t.html:1: empty tag name");
	CU_ASSERT_STRING_EQUAL(load_error("\n{{#}}{{/}}"),
	    "t.html:2: empty tag name");
	CU_ASSERT_STRING_EQUAL(load_error("\n{{{ }}}"),
	    "t.html:2: empty tag name");
	CU_ASSERT_STRING_EQUAL(load_error("\n{{>}}"),
	    "t.html:2: empty tag name");
	CU_ASSERT_STRING_EQUAL(load_error("a\n{{user name}}"),
	    "t.html:2: invalid name \"user name\"");
	CU_ASSERT_STRING_EQUAL(load_error("{{a..b}}"),
	    "t.html:1: invalid name \"a..b\"");
	CU_ASSERT_STRING_EQUAL(load_error("\n\n{{#a.}}{{/a.}}"),
	    "t.html:3: invalid name \"a.\"");
	CU_ASSERT_STRING_EQUAL(load_error("{{<b>}}"),
	    "t.html:1: invalid name \"<b>\"");
	CU_ASSERT_STRING_EQUAL(load_error("{{a\tb\n}}"),
	    "t.html:1: invalid name \"a\tb\"");
	CU_ASSERT_STRING_EQUAL(load_error("{{>.}}"),
	    "t.html:1: invalid name \".\"");
	CU_ASSERT_STRING_EQUAL(load_error("{{x}}\n{{=<% %>=}}\n"),
	    "t.html:2: set delimiters not supported");
	CU_ASSERT_STRING_EQUAL(load_error("\n\n{{> nowhere }}\n"),
	    "t.html:3: missing partial \"nowhere\"");
	CU_ASSERT_STRING_EQUAL(load_error("fine {{a.b}} {{{c}}} {{&d}} {{.}}\n"
	                                  "{{#e}}{{^f}}{{/f}}{{/e}}{{! x }}"),
	    "loaded");
}

static void
test_partial_recursion(void)
{
	const char *names[18], *srcs[18];
	char        name[18][8], src[18][32];
	size_t      i;

	CU_ASSERT_STRING_EQUAL(load_error("a\n{{#x}}\n{{>t}}\n{{/x}}\n"),
	    "t.html:3: recursive partial \"t\"");
	names[0] = "a";
	names[1] = "b";
	srcs[0] = "{{>b}}";
	srcs[1] = "\n{{>a}}";
	CU_ASSERT_STRING_EQUAL(load_error_set(names, srcs, 2),
	    "b.html:2: recursive partial \"a\"");
	/* p0 includes p1 ... includes p16: 16 levels are allowed. */
	for (i = 0; i < 18; i++) {
		snprintf(name[i], sizeof(name[i]), "p%zu", i);
		snprintf(src[i], sizeof(src[i]), "line\n{{>p%zu}}", i + 1);
		names[i] = name[i];
		srcs[i] = src[i];
	}
	srcs[16] = "leaf";
	CU_ASSERT_STRING_EQUAL(load_error_set(names, srcs, 17), "loaded");
	CU_ASSERT_STRING_EQUAL(render_set(names, srcs, 17, "p0", NULL),
	    "line\nline\nline\nline\nline\nline\nline\nline\nline\nline\n"
	    "line\nline\nline\nline\nline\nline\nleaf");
	/* A 17th level is one too many. */
	srcs[16] = src[16];
	srcs[17] = "leaf";
	CU_ASSERT_STRING_EQUAL(load_error_set(names, srcs, 18),
	    "p16.html:2: partials nested deeper than 16");
}

static void
test_section_depth(void)
{
	struct buf src = BUF_INIT;
	int        i;

	for (i = 0; i < 32; i++)
		buf_puts(&src, "{{#a}}");
	for (i = 0; i < 32; i++)
		buf_puts(&src, "{{/a}}");
	CU_ASSERT_STRING_EQUAL(load_error(buf_str(&src)), "loaded");
	buf_reset(&src);
	for (i = 0; i < 32; i++)
		buf_puts(&src, "{{#a}}\n");
	buf_puts(&src, "{{^b}}{{/b}}");
	CU_ASSERT_STRING_EQUAL(load_error(buf_str(&src)),
	    "t.html:33: sections nested deeper than 32");
	buf_free(&src);
}

/* Sections in partials can push past 64 contexts: an error, not a crash. */
static void
test_context_depth(void)
{
	struct buf  a = BUF_INIT, b = BUF_INIT;
	const char *names[] = { "a", "b" }, *srcs[2];
	int         i;

	for (i = 0; i < 32; i++)
		buf_puts(&a, "{{#t}}");
	buf_puts(&a, "{{>b}}");
	for (i = 0; i < 32; i++)
		buf_puts(&a, "{{/t}}");
	/* 1 root + 32 + 31 = 64 contexts: still fine. */
	for (i = 0; i < 31; i++)
		buf_puts(&b, "{{#t}}");
	buf_puts(&b, "ok");
	for (i = 0; i < 31; i++)
		buf_puts(&b, "{{/t}}");
	srcs[0] = buf_str(&a);
	srcs[1] = buf_str(&b);
	CU_ASSERT_STRING_EQUAL(render_set(names, srcs, 2, "a", "{\"t\":true}"),
	    "ok");
	buf_reset(&b);
	buf_puts(&b, "x{{#t}}{{#t}}{{/t}}{{/t}}");
	for (i = 0; i < 30; i++)
		buf_puts(&b, "{{#t}}");
	buf_puts(&b, "{{#t}}{{#t}}deep{{/t}}{{/t}}");
	for (i = 0; i < 30; i++)
		buf_puts(&b, "{{/t}}");
	srcs[1] = buf_str(&b);
	CU_ASSERT_STRING_EQUAL(render_set(names, srcs, 2, "a", "{\"t\":true}"),
	    "ERR: b.html: context stack deeper than 64");
	buf_free(&a);
	buf_free(&b);
}

static void
test_render_api(void)
{
	const char         *names[] = { "page" };
	const char         *srcs[] = { "<p>{{x}}</p>" };
	struct tmpl_set    *set;
	struct json_object *ctx;
	struct buf          b = BUF_INIT;

	set = tmpl_load_mem(names, srcs, 1, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(set);
	CU_ASSERT_EQUAL(tmpl_exists(set, "page"), 1);
	CU_ASSERT_EQUAL(tmpl_exists(set, "pag"), 0);
	CU_ASSERT_EQUAL(tmpl_exists(set, "page.html"), 0);
	CU_ASSERT_EQUAL(tmpl_exists(NULL, "page"), 0);
	buf_puts(&b, "kept|");
	err[0] = '\0';
	CU_ASSERT_EQUAL(tmpl_render(set, "nope", NULL, &b, err, sizeof(err)),
	    -1);
	CU_ASSERT_STRING_EQUAL(err, "unknown template \"nope\"");
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "kept|");
	ctx = json_tokener_parse("{\"x\":\"1\"}");
	CU_ASSERT_EQUAL(tmpl_render(set, "page", ctx, &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tmpl_render(set, "page", ctx, &b, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "kept|<p>1</p><p>1</p>");
	/* A tiny err buffer is truncated, not overrun. */
	CU_ASSERT_EQUAL(tmpl_render(set, "nope", ctx, &b, err, 5), -1);
	CU_ASSERT_STRING_EQUAL(err, "unkn");
	CU_ASSERT_EQUAL(tmpl_render(set, "nope", ctx, &b, NULL, 0), -1);
	json_object_put(ctx);
	tmpl_free(set);
	tmpl_free(NULL);
	buf_free(&b);

	/* Duplicate names and sizes. */
	{
		const char *dn[] = { "a", "a" }, *ds[] = { "1", "2" };
		char       *big;

		CU_ASSERT_STRING_EQUAL(load_error_set(dn, ds, 2),
		    "a.html: duplicate template");
		big = malloc(1024 * 1024 + 2);
		CU_ASSERT_PTR_NOT_NULL_FATAL(big);
		memset(big, 'x', 1024 * 1024 + 1);
		big[1024 * 1024 + 1] = '\0';
		CU_ASSERT_STRING_EQUAL(load_error(big),
		    "t.html: larger than 1 MiB");
		big[1024 * 1024] = '\0';
		CU_ASSERT_STRING_EQUAL(load_error(big), "loaded");
		free(big);
		CU_ASSERT_STRING_EQUAL(load_error_set(dn, ds, 0), "loaded");
	}
}

static int
write_file(const char *dir, const char *name, const char *text)
{
	char  path[PATH_MAX];
	FILE *fp;
	int   rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	rc = fputs(text, fp) < 0 ? -1 : 0;
	if (fclose(fp) != 0)
		rc = -1;
	return rc;
}

static void
remove_file(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void
test_load_dir(void)
{
	char                dir[] = "/tmp/test_template.XXXXXX";
	char                sub[PATH_MAX];
	struct tmpl_set    *set;
	struct json_object *ctx;
	struct buf          b = BUF_INIT;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	CU_ASSERT_EQUAL(
	    write_file(dir, "layout.html",
	        "<main>\n  {{#rows}}\n  {{>row}}\n  {{/rows}}\n</main>\n"),
	    0);
	CU_ASSERT_EQUAL(write_file(dir, "row.html", "<p>{{.}}</p>\n"), 0);
	CU_ASSERT_EQUAL(write_file(dir, "notes.txt", "{{#broken"), 0);
	CU_ASSERT_EQUAL(write_file(dir, ".#row.html", "{{#broken"), 0);
	CU_ASSERT_EQUAL(write_file(dir, ".html", "{{#broken"), 0);

	set = tmpl_load_dir(dir, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(set);
	CU_ASSERT_EQUAL(tmpl_exists(set, "layout"), 1);
	CU_ASSERT_EQUAL(tmpl_exists(set, "row"), 1);
	CU_ASSERT_EQUAL(tmpl_exists(set, "notes"), 0);
	ctx = json_tokener_parse("{\"rows\":[\"<1>\",\"2\"]}");
	CU_ASSERT_EQUAL(tmpl_render(set, "layout", ctx, &b, err, sizeof(err)),
	    0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b),
	    "<main>\n<p>&lt;1&gt;</p>\n<p>2</p>\n</main>\n");
	json_object_put(ctx);
	tmpl_free(set);

	/* An error names the file and the line. */
	CU_ASSERT_EQUAL(write_file(dir, "bad.html",
	                    "<ul>\n\n  {{#items}}\n  <li>{{.}}</li>\n</ul>\n"),
	    0);
	CU_ASSERT_PTR_NULL(tmpl_load_dir(dir, err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "bad.html:3: unclosed section \"items\"");
	remove_file(dir, "bad.html");

	CU_ASSERT_EQUAL(write_file(dir, "a.html", "x\n{{>gone}}\n"), 0);
	CU_ASSERT_PTR_NULL(tmpl_load_dir(dir, err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "a.html:2: missing partial \"gone\"");
	remove_file(dir, "a.html");

	/* A directory with a template's name is refused, not read. */
	snprintf(sub, sizeof(sub), "%s/sub.html", dir);
	CU_ASSERT_EQUAL(mkdir(sub, 0700), 0);
	CU_ASSERT_PTR_NULL(tmpl_load_dir(dir, err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "sub.html: not a regular file");
	rmdir(sub);

	set = tmpl_load_dir(dir, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL(set);
	tmpl_free(set);

	remove_file(dir, "layout.html");
	remove_file(dir, "row.html");
	remove_file(dir, "notes.txt");
	remove_file(dir, ".#row.html");
	remove_file(dir, ".html");
	CU_ASSERT_EQUAL(rmdir(dir), 0);

	/* Now gone: the error names the directory. */
	CU_ASSERT_PTR_NULL(tmpl_load_dir(dir, err, sizeof(err)));
	CU_ASSERT_EQUAL(strncmp(err, dir, strlen(dir)), 0);
	CU_ASSERT_STRING_EQUAL(err + strlen(dir),
	    ": No such file or directory");
	buf_free(&b);
}

static int
cleanup_template(void)
{
	buf_free(&out);
	return 0;
}

static const struct ut_test tests[] = { { "escape_html", test_escape_html },
	{ "variables_escape", test_variables_escape },
	{ "variables_values", test_variables_values },
	{ "numbers", test_numbers }, { "dotted_names", test_dotted_names },
	{ "sections", test_sections }, { "inverted", test_inverted },
	{ "nested_lookup", test_nested_lookup }, { "partials", test_partials },
	{ "comments", test_comments }, { "standalone", test_standalone },
	{ "load_errors", test_load_errors },
	{ "partial_recursion", test_partial_recursion },
	{ "section_depth", test_section_depth },
	{ "context_depth", test_context_depth },
	{ "render_api", test_render_api }, { "load_dir", test_load_dir },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "template", NULL, NULL,
	                                  cleanup_template, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
