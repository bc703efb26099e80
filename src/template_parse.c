/*
 * template_parse: compiles the source of one template into its node
 * array (template.c has the design): finds the tags, applies Mustache's
 * standalone-line rule, checks names and keeps the section stack, and
 * reports anything wrong as "file:line: reason". Partials are only named
 * here; template.c resolves them once the whole set is compiled.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* strndup */
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

/*
 * The error writer of the whole engine lives here, at its bottom:
 * template.c and template_render.c call into this file and it calls
 * into neither, so the three depend on each other in one direction.
 */
int
tmpl_fail(char *err, size_t errlen, const struct tmpl *t, unsigned line,
    const char *fmt, ...)
{
	char    msg[256];
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t == NULL)
		snprintf(err, errlen, "%s", msg);
	else if (line > 0)
		snprintf(err, errlen, "%s.html:%u: %s", t->name, line, msg);
	else
		snprintf(err, errlen, "%s.html: %s", t->name, msg);
	return -1;
}

/* One scanned tag, before it becomes a node. */
struct tmpl_tag {
	char        type; /* one of #^/>!&{, 0 for a variable */
	unsigned    line;
	size_t      end;  /* one past the closing braces */
	const char *name; /* trimmed, not NUL-terminated */
	size_t      namelen;
};

struct tmpl_parser {
	struct tmpl    *t;
	char           *err;
	size_t          errlen;
	struct tmpl_tag open[TMPL_MAX_SECTIONS];
	size_t          opennode[TMPL_MAX_SECTIONS];
	size_t          depth;
};

/* Offset of needle in s[from, len), or len when absent. */
static size_t
tmpl_find(const char *s, size_t len, size_t from, const char *needle)
{
	size_t n = strlen(needle);

	while (from + n <= len) {
		const char *p = memchr(s + from, needle[0], len - from - n + 1);

		if (p == NULL)
			break;
		from = (size_t)(p - s);
		if (memcmp(p, needle, n) == 0)
			return from;
		from++;
	}
	return len;
}

static unsigned
tmpl_count_lines(const char *s, size_t n)
{
	const char *p, *end = s + n;
	unsigned    c = 0;

	while ((p = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		c++;
		s = p + 1;
	}
	return c;
}

static int
tmpl_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
tmpl_namechar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* "." or non-empty segments of [A-Za-z0-9_-] joined by single dots. */
static int
tmpl_name_ok(const char *s, size_t n)
{
	size_t i, seglen = 0;

	if (n == 1 && s[0] == '.')
		return 1;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (seglen == 0)
				return 0;
			seglen = 0;
		} else if (tmpl_namechar(s[i]))
			seglen++;
		else
			return 0;
	}
	return seglen > 0;
}

static struct tmpl_node *
tmpl_node_add(struct tmpl *t, enum tmpl_op op, unsigned line)
{
	struct tmpl_node *p;

	if (t->nnodes == t->nodecap) {
		/* Cannot overflow: there are fewer nodes than source bytes. */
		size_t ncap = t->nodecap ? t->nodecap * 2 : 16;

		if ((p = realloc(t->nodes, ncap * sizeof(*p))) == NULL)
			return NULL;
		t->nodes = p;
		t->nodecap = ncap;
	}
	p = &t->nodes[t->nnodes++];
	memset(p, 0, sizeof(*p));
	p->op = op;
	p->line = line;
	return p;
}

/*
 * Reads the tag whose "{{" is at offset start. Everything that can be
 * wrong with one tag on its own is reported here; what depends on other
 * tags (sections, partials) is checked later.
 */
static int
tmpl_scan_tag(struct tmpl_parser *ps, size_t start, unsigned line,
    struct tmpl_tag *tag)
{
	const struct tmpl *t = ps->t;
	const char        *s = t->src, *closer = "}}";
	size_t             len = t->srclen, p = start + 2, close;

	memset(tag, 0, sizeof(*tag));
	tag->line = line;
	if (p < len && s[p] != '\0' && strchr("{#^/>!&=", s[p]) != NULL)
		tag->type = s[p++];
	if (tag->type == '=')
		return tmpl_fail(ps->err, ps->errlen, t, line,
		    "set delimiters not supported");
	if (tag->type == '{')
		closer = "}}}";
	if ((close = tmpl_find(s, len, p, closer)) == len)
		return tmpl_fail(ps->err, ps->errlen, t, line,
		    "unterminated tag");
	tag->end = close + strlen(closer);
	if (tag->type == '!')
		return 0;
	while (p < close && tmpl_blank(s[p]))
		p++;
	while (close > p && tmpl_blank(s[close - 1]))
		close--;
	if (p == close)
		return tmpl_fail(ps->err, ps->errlen, t, line,
		    "empty tag name");
	tag->name = s + p;
	tag->namelen = close - p;
	if (!tmpl_name_ok(tag->name, tag->namelen) ||
	    (tag->type == '>' && tag->name[0] == '.'))
		return tmpl_fail(ps->err, ps->errlen, t, line,
		    "invalid name \"%.*s\"",
		    (int)(tag->namelen > TMPL_QUOTE_MAX ? TMPL_QUOTE_MAX
		                                        : tag->namelen),
		    tag->name);
	return 0;
}

/*
 * Mustache's standalone rule: a line holding nothing but one section,
 * inverted, close, comment or partial tag and blanks disappears, newline
 * included, so block tags can sit on lines of their own without leaving
 * blank lines in the HTML. When it applies, widens the tag's span
 * [*textend, *after) over the blanks before it and the blanks and newline
 * after it. pos is where the current text run starts: the byte before it
 * is a newline or the closing brace of an earlier tag on this line, which
 * makes the line not standalone.
 */
static void
tmpl_standalone(const struct tmpl_tag *tag, const char *s, size_t len,
    size_t pos, size_t *textend, size_t *after)
{
	size_t b = *textend, e = *after;

	if (tag->type == 0 || strchr("#^/>!", tag->type) == NULL)
		return;
	while (b > pos && (s[b - 1] == ' ' || s[b - 1] == '\t'))
		b--;
	if (b > 0 && s[b - 1] != '\n')
		return;
	while (e < len && (s[e] == ' ' || s[e] == '\t'))
		e++;
	if (e + 1 < len && s[e] == '\r' && s[e + 1] == '\n')
		e += 2;
	else if (e < len && s[e] == '\n')
		e++;
	else if (e < len)
		return;
	*textend = b;
	*after = e;
}

/* Turns one scanned tag into a node, keeping the section stack. */
static int
tmpl_apply_tag(struct tmpl_parser *ps, const struct tmpl_tag *tag)
{
	struct tmpl           *t = ps->t;
	struct tmpl_node      *n;
	const struct tmpl_tag *o;
	enum tmpl_op           op = TMPL_VAR;
	size_t                 i;

	switch (tag->type) {
	case '!':
		return 0;
	case '/':
		/* Names were checked, so printing them raw is safe. */
		if (ps->depth == 0)
			return tmpl_fail(ps->err, ps->errlen, t, tag->line,
			    "close \"%.*s\" without open section",
			    (int)tag->namelen, tag->name);
		o = &ps->open[ps->depth - 1];
		if (o->namelen != tag->namelen ||
		    memcmp(o->name, tag->name, tag->namelen) != 0)
			return tmpl_fail(ps->err, ps->errlen, t, tag->line,
			    "close \"%.*s\" does not match open section "
			    "\"%.*s\"",
			    (int)tag->namelen, tag->name, (int)o->namelen,
			    o->name);
		ps->depth--;
		t->nodes[ps->opennode[ps->depth]].end = t->nnodes;
		return 0;
	case '#':
	case '^':
		if (ps->depth == TMPL_MAX_SECTIONS)
			return tmpl_fail(ps->err, ps->errlen, t, tag->line,
			    "sections nested deeper than %d",
			    TMPL_MAX_SECTIONS);
		ps->open[ps->depth] = *tag;
		ps->opennode[ps->depth++] = t->nnodes;
		op = tag->type == '#' ? TMPL_SECTION : TMPL_INVERTED;
		break;
	case '>':
		op = TMPL_PARTIAL;
		break;
	case '{':
	case '&':
		op = TMPL_RAW;
		break;
	}
	if ((n = tmpl_node_add(t, op, tag->line)) == NULL)
		goto oom;
	if (tag->namelen == 1 && tag->name[0] == '.')
		return 0; /* nseg 0: the current item */
	if ((n->key = strndup(tag->name, tag->namelen)) == NULL)
		goto oom;
	if (op == TMPL_PARTIAL)
		return 0;
	for (n->nseg = 1, i = 0; i < tag->namelen; i++)
		if (n->key[i] == '.') {
			n->key[i] = '\0';
			n->nseg++;
		}
	return 0;
oom:
	return tmpl_fail(ps->err, ps->errlen, t, tag->line, "out of memory");
}

int
tmpl_parse(struct tmpl *t, char *err, size_t errlen)
{
	struct tmpl_parser ps;
	struct tmpl_tag    tag;
	struct tmpl_node  *n;
	const char        *s = t->src;
	size_t             len = t->srclen, pos = 0, textend, after;
	unsigned           line = 1;

	memset(&ps, 0, sizeof(ps));
	ps.t = t;
	ps.err = err;
	ps.errlen = errlen;
	while (pos < len) {
		size_t   start = tmpl_find(s, len, pos, "{{");
		unsigned tagline;

		tagline = line + tmpl_count_lines(s + pos, start - pos);
		textend = after = start;
		if (start < len) {
			if (tmpl_scan_tag(&ps, start, tagline, &tag) == -1)
				return -1;
			after = tag.end;
			tmpl_standalone(&tag, s, len, pos, &textend, &after);
		}
		if (textend > pos) {
			if ((n = tmpl_node_add(t, TMPL_TEXT, 0)) == NULL)
				return tmpl_fail(err, errlen, t, 0,
				    "out of memory");
			n->off = pos;
			n->len = textend - pos;
		}
		if (start == len)
			break;
		if (tmpl_apply_tag(&ps, &tag) == -1)
			return -1;
		line = tagline + tmpl_count_lines(s + start, after - start);
		pos = after;
	}
	if (ps.depth == 0)
		return 0;
	tag = ps.open[ps.depth - 1];
	return tmpl_fail(err, errlen, t, tag.line, "unclosed section \"%.*s\"",
	    (int)tag.namelen, tag.name);
}
