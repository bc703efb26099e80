/*
 * template_int: what the template loader (template.c), the parser
 * (template_parse.c) and the renderer (template_render.c) share: the compiled node array,
 * the limits, and the error writer. Not part of the public surface: only
 * the template files include it; everyone else uses template.h.
 */
#ifndef WABA_TEMPLATE_INT_H
#define WABA_TEMPLATE_INT_H

#include <stddef.h>

#define TMPL_MAX_FILE     (1024 * 1024)
#define TMPL_MAX_SECTIONS 32
#define TMPL_MAX_PARTIALS 16
#define TMPL_MAX_STACK    64
#define TMPL_QUOTE_MAX    40 /* bytes of a bad name echoed */

enum tmpl_op {
	TMPL_TEXT,     /* literal bytes of the source */
	TMPL_VAR,      /* {{name}}, escaped */
	TMPL_RAW,      /* {{{name}}} or {{& name}} */
	TMPL_SECTION,  /* {{#name}} */
	TMPL_INVERTED, /* {{^name}} */
	TMPL_PARTIAL   /* {{>name}} */
};

struct tmpl_node {
	enum tmpl_op op;
	unsigned     line; /* of the tag, for link-time errors */
	size_t       off;  /* TMPL_TEXT: src[off, off + len) */
	size_t       len;
	char        *key;     /* name segments; partials: the name */
	size_t       nseg;    /* 0 means "." (and key is NULL) */
	size_t       end;     /* sections: one past the body */
	size_t       partial; /* TMPL_PARTIAL: index in the set */
};

struct tmpl {
	char             *name;
	char             *src;
	size_t            srclen;
	struct tmpl_node *nodes;
	size_t            nnodes, nodecap;
	/* Partial depth check: 0 new, 1 being walked, 2 height known. */
	int    mark;
	size_t height; /* longest partial chain below */
};

struct tmpl_set {
	size_t      n;
	struct tmpl t[];
};

/*
 * Writes "file:line: message" into err, "file: message" when line is 0,
 * or just the message when there is no template t. Always returns -1.
 * In template_parse.c, which depends on no other template file.
 */
int tmpl_fail(char *, size_t, const struct tmpl *, unsigned, const char *, ...)
    __attribute__((format(printf, 5, 6)));
/* Index of the template called name, or set->n when there is none. */
size_t tmpl_index(const struct tmpl_set *, const char *name);
/* Compiles t->src into t->nodes: 0, or -1 with "file:line: reason". */
int tmpl_parse(struct tmpl *t, char *err, size_t errlen);

#endif
