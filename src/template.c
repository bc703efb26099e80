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
 * Files: template.c loads a set, links its partials and owns its memory;
 * template_parse.c compiles one template's source into nodes;
 * template_render.c renders a set and holds the escaper; template_int.h
 * is what they share.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* scandir, strndup, strnlen */
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "template.h"
#include "template_int.h"

size_t
tmpl_index(const struct tmpl_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (name != NULL && strcmp(set->t[i].name, name) == 0)
			break;
	return i;
}

/* Room for n templates; tmpl_compile() fills them one by one. */
static struct tmpl_set *
tmpl_set_new(size_t n, char *err, size_t errlen)
{
	struct tmpl_set *set = NULL;

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
	struct tmpl *t = &set->t[set->n];

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
tmpl_check_depth(struct tmpl_set *set, struct tmpl *t, size_t depth, char *err,
    size_t errlen)
{
	struct tmpl_node *n;
	struct tmpl      *c;
	size_t            i;

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
	struct tmpl_node *n;
	size_t            i, j;

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
tmpl_load_mem(const char *const *names, const char *const *sources, size_t n,
    char *err, size_t errlen)
{
	struct tmpl_set *set;
	char            *src;
	size_t           i, len;

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
	struct stat st;
	FILE       *fp;
	char       *src = NULL;
	size_t      len;

	if ((fp = fopen(path, "r")) == NULL || fstat(fileno(fp), &st) == -1)
		goto syserr;
	if (!S_ISREG(st.st_mode) || st.st_size > TMPL_MAX_FILE) {
		tmpl_fail(err, errlen, NULL, 0, "%s: %s", file,
		    S_ISREG(st.st_mode) ? "larger than 1 MiB"
		                        : "not a regular file");
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
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 &&
	    strcmp(de->d_name + n - 5, ".html") == 0;
}

struct tmpl_set *
tmpl_load_dir(const char *dir, char *err, size_t errlen)
{
	struct tmpl_set *set = NULL;
	struct dirent  **ents = NULL;
	struct buf       path = BUF_INIT;
	char            *src, *name;
	size_t           len;
	int              i, n;

	/* Sorted, so that the error reported first is reproducible. */
	if ((n = scandir(dir, &ents, tmpl_is_html, alphasort)) == -1) {
		tmpl_fail(err, errlen, NULL, 0, "%s: %s", dir, strerror(errno));
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
		if (tmpl_read(buf_str(&path), name, &src, &len, err, errlen) ==
		    -1)
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
	size_t i, j;

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
