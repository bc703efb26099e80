/*
 * template: a small Mustache subset that renders json-c values into HTML.
 *
 * Design. Every template of a directory is compiled once, at startup, into
 * a flat array of nodes: literal text, variable, section, inverted section,
 * partial. A section node stores the index one past its body, so a body is
 * just the range (i, end) of the same array and the close tag needs no node.
 * Rendering is a loop over such ranges, recursing once per section or
 * partial; it only reads the source to copy the bytes a text node points
 * at. Partials are resolved to template indices after the whole set is
 * compiled, so a missing partial or an include cycle is reported at load
 * time, when a person is watching, never in the middle of a request.
 *
 * Names are checked strictly ([A-Za-z0-9_-] segments joined by dots, or
 * ".") so a typo such as {{user name}} fails at load time instead of
 * rendering nothing. A variable or section stores its segments back to back,
 * each NUL-terminated ("a.b" becomes "a\0b\0"), ready for json-c lookups.
 *
 * Limits keep a broken or hostile template from costing unbounded memory or
 * C stack: 1 MiB per file, sections nested 32 deep, partials nested 16 deep
 * (a cycle is infinitely deep, so it is rejected), and 64 entries on the
 * context stack while rendering.
 *
 * Left out on purpose: set delimiters (a load error, they make templates
 * hard to read), lambdas, and re-indenting standalone partials (their
 * indentation is dropped, which HTML does not care about).
 *
 * Files: template.c loads, compiles and links a set; template_render.c
 * renders it and holds the escaper; template_int.h is what they share.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L	/* scandir, strndup, strnlen */
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "template.h"
#include "template_int.h"

/* One scanned tag, before it becomes a node. */
struct tmpl_tag {
	char		 type;	/* one of #^/>!&{, 0 for a variable */
	unsigned	 line;
	size_t		 end;	/* one past the closing braces */
	const char	*name;	/* trimmed, not NUL-terminated */
	size_t		 namelen;
};

struct tmpl_parser {
	struct tmpl	*t;
	char		*err;
	size_t		 errlen;
	struct tmpl_tag	 open[TMPL_MAX_SECTIONS];
	size_t		 opennode[TMPL_MAX_SECTIONS];
	size_t		 depth;
};

int
tmpl_fail(char *err, size_t errlen, const struct tmpl *t, unsigned line,
    const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

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

/* Offset of needle in s[from, len), or len when absent. */
static size_t
tmpl_find(const char *s, size_t len, size_t from, const char *needle)
{
	size_t	 n = strlen(needle);

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
	const char	*p, *end = s + n;
	unsigned	 c = 0;

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
	size_t	 i, seglen = 0;

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
	struct tmpl_node	*p;

	if (t->nnodes == t->nodecap) {
		/* Cannot overflow: there are fewer nodes than source bytes. */
		size_t	 ncap = t->nodecap ? t->nodecap * 2 : 16;

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
	const struct tmpl	*t = ps->t;
	const char		*s = t->src, *closer = "}}";
	size_t			 len = t->srclen, p = start + 2, close;

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
		    "invalid name \"%.*s\"", (int)(tag->namelen >
		    TMPL_QUOTE_MAX ? TMPL_QUOTE_MAX : tag->namelen), tag->name);
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
	size_t	 b = *textend, e = *after;

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
	struct tmpl		*t = ps->t;
	struct tmpl_node	*n;
	const struct tmpl_tag	*o;
	enum tmpl_op		 op = TMPL_VAR;
	size_t			 i;

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
			    "\"%.*s\"", (int)tag->namelen, tag->name,
			    (int)o->namelen, o->name);
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
		return 0;	/* nseg 0: the current item */
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

/* Compiles t->src into t->nodes. */
static int
tmpl_parse(struct tmpl *t, char *err, size_t errlen)
{
	struct tmpl_parser	 ps;
	struct tmpl_tag		 tag;
	struct tmpl_node	*n;
	const char		*s = t->src;
	size_t			 len = t->srclen, pos = 0, textend, after;
	unsigned		 line = 1;

	memset(&ps, 0, sizeof(ps));
	ps.t = t;
	ps.err = err;
	ps.errlen = errlen;
	while (pos < len) {
		size_t	 start = tmpl_find(s, len, pos, "{{");
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

size_t
tmpl_index(const struct tmpl_set *set, const char *name)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		if (name != NULL && strcmp(set->t[i].name, name) == 0)
			break;
	return i;
}

/* Room for n templates; tmpl_compile() fills them one by one. */
static struct tmpl_set *
tmpl_set_new(size_t n, char *err, size_t errlen)
{
	struct tmpl_set	*set = NULL;

	if (n <= (SIZE_MAX - sizeof(*set)) / sizeof(set->t[0]))
		set = calloc(1, sizeof(*set) + n * sizeof(set->t[0]));
	if (set == NULL)
		tmpl_fail(err, errlen, NULL, 0, "out of memory");
	return set;
}

/*
 * Adds and compiles one template. Takes ownership of src (len bytes plus a
 * NUL) whatever happens, so callers have a single cleanup path.
 */
static int
tmpl_compile(struct tmpl_set *set, const char *name, char *src, size_t len,
    char *err, size_t errlen)
{
	struct tmpl	*t = &set->t[set->n];

	t->src = src;
	t->srclen = len;
	if ((t->name = strdup(name)) == NULL) {
		free(src);
		t->src = NULL;
		return tmpl_fail(err, errlen, NULL, 0, "out of memory");
	}
	set->n++;
	if (tmpl_index(set, name) != set->n - 1)
		return tmpl_fail(err, errlen, t, 0, "duplicate template");
	if (len > TMPL_MAX_FILE)
		return tmpl_fail(err, errlen, t, 0, "larger than 1 MiB");
	return tmpl_parse(t, err, errlen);
}

/*
 * Checks that partials below t nest at most TMPL_MAX_PARTIALS deep, t being
 * reached through depth partials. Heights are memoized, so each template
 * is walked once however many templates include it; the C recursion is
 * bounded by the limit itself.
 */
static int
tmpl_check_depth(struct tmpl_set *set, struct tmpl *t, size_t depth,
    char *err, size_t errlen)
{
	struct tmpl_node	*n;
	struct tmpl		*c;
	size_t			 i;

	t->mark = 1;
	t->height = 0;
	for (i = 0; i < t->nnodes; i++) {
		n = &t->nodes[i];
		if (n->op != TMPL_PARTIAL)
			continue;
		c = &set->t[n->partial];
		if (c->mark == 1)
			return tmpl_fail(err, errlen, t, n->line,
			    "recursive partial \"%s\"", c->name);
		if (depth + 1 > TMPL_MAX_PARTIALS)
			goto deep;
		if (c->mark == 0 &&
		    tmpl_check_depth(set, c, depth + 1, err, errlen) == -1)
			return -1;
		if (depth + 1 + c->height > TMPL_MAX_PARTIALS)
			goto deep;
		if (c->height + 1 > t->height)
			t->height = c->height + 1;
	}
	t->mark = 2;
	return 0;
 deep:
	return tmpl_fail(err, errlen, t, n->line,
	    "partials nested deeper than %d", TMPL_MAX_PARTIALS);
}

/* Resolves every partial to its template, then bounds their nesting. */
static int
tmpl_link(struct tmpl_set *set, char *err, size_t errlen)
{
	struct tmpl_node	*n;
	size_t			 i, j;

	for (i = 0; i < set->n; i++) {
		const struct tmpl *t = &set->t[i];

		for (j = 0; j < t->nnodes; j++) {
			n = &t->nodes[j];
			if (n->op != TMPL_PARTIAL)
				continue;
			if ((n->partial = tmpl_index(set, n->key)) == set->n)
				return tmpl_fail(err, errlen, t, n->line,
				    "missing partial \"%s\"", n->key);
		}
	}
	for (i = 0; i < set->n; i++)
		if (set->t[i].mark == 0 &&
		    tmpl_check_depth(set, &set->t[i], 0, err, errlen) == -1)
			return -1;
	return 0;
}

struct tmpl_set *
tmpl_load_mem(const char *const *names, const char *const *sources,
    size_t n, char *err, size_t errlen)
{
	struct tmpl_set	*set;
	char		*src;
	size_t		 i, len;

	if ((set = tmpl_set_new(n, err, errlen)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (names[i] == NULL || names[i][0] == '\0' ||
		    sources[i] == NULL) {
			tmpl_fail(err, errlen, NULL, 0,
			    "template %zu: no name or source", i);
			goto fail;
		}
		/* Only copy what tmpl_compile() will accept. */
		len = strnlen(sources[i], TMPL_MAX_FILE + 1);
		if ((src = strndup(sources[i], len)) == NULL) {
			tmpl_fail(err, errlen, NULL, 0, "out of memory");
			goto fail;
		}
		if (tmpl_compile(set, names[i], src, len, err, errlen) == -1)
			goto fail;
	}
	if (tmpl_link(set, err, errlen) == -1)
		goto fail;
	return set;
 fail:
	tmpl_free(set);
	return NULL;
}

/* Reads path, refusing anything but a regular file of at most 1 MiB. */
static int
tmpl_read(const char *path, const char *file, char **srcp, size_t *lenp,
    char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*fp;
	char		*src = NULL;
	size_t		 len;

	if ((fp = fopen(path, "r")) == NULL || fstat(fileno(fp), &st) == -1)
		goto syserr;
	if (!S_ISREG(st.st_mode) || st.st_size > TMPL_MAX_FILE) {
		tmpl_fail(err, errlen, NULL, 0, "%s: %s", file,
		    S_ISREG(st.st_mode) ? "larger than 1 MiB" :
		    "not a regular file");
		goto fail;
	}
	if ((src = malloc((size_t)st.st_size + 1)) == NULL)
		goto syserr;
	/* A file growing meanwhile is cut at the size fstat saw. */
	len = fread(src, 1, (size_t)st.st_size, fp);
	if (ferror(fp))
		goto syserr;
	src[len] = '\0';
	fclose(fp);
	*srcp = src;
	*lenp = len;
	return 0;
 syserr:
	tmpl_fail(err, errlen, NULL, 0, "%s: %s", file, strerror(errno));
 fail:
	free(src);
	if (fp != NULL)
		fclose(fp);
	return -1;
}

/* Dot files are editor droppings such as ".#index.html". */
static int
tmpl_is_html(const struct dirent *de)
{
	size_t	 n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 &&
	    strcmp(de->d_name + n - 5, ".html") == 0;
}

struct tmpl_set *
tmpl_load_dir(const char *dir, char *err, size_t errlen)
{
	struct tmpl_set	*set = NULL;
	struct dirent	**ents = NULL;
	struct buf	 path = BUF_INIT;
	char		*src, *name;
	size_t		 len;
	int		 i, n;

	/* Sorted, so that the error reported first is reproducible. */
	if ((n = scandir(dir, &ents, tmpl_is_html, alphasort)) == -1) {
		tmpl_fail(err, errlen, NULL, 0, "%s: %s", dir,
		    strerror(errno));
		return NULL;
	}
	if ((set = tmpl_set_new((size_t)n, err, errlen)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		name = ents[i]->d_name;
		buf_reset(&path);
		if (buf_printf(&path, "%s/%s", dir, name) == -1) {
			tmpl_fail(err, errlen, NULL, 0, "out of memory");
			goto fail;
		}
		if (tmpl_read(buf_str(&path), name, &src, &len, err,
		    errlen) == -1)
			goto fail;
		name[strlen(name) - 5] = '\0';
		if (tmpl_compile(set, name, src, len, err, errlen) == -1)
			goto fail;
	}
	if (tmpl_link(set, err, errlen) == 0)
		goto out;
 fail:
	tmpl_free(set);
	set = NULL;
 out:
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	buf_free(&path);
	return set;
}

int
tmpl_exists(const struct tmpl_set *set, const char *name)
{
	return set != NULL && tmpl_index(set, name) < set->n;
}

void
tmpl_free(struct tmpl_set *set)
{
	size_t	 i, j;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++) {
		struct tmpl *t = &set->t[i];

		for (j = 0; j < t->nnodes; j++)
			free(t->nodes[j].key);
		free(t->nodes);
		free(t->name);
		free(t->src);
	}
	free(set);
}

