/*
 * template_render: walks a compiled set (template.c has the design)
 * against a json-c context, and the project's one HTML-escaping writer.
 * Partials were resolved and their nesting bounded at load time, so
 * rendering can fail only on an allocation or the context stack limit.
 */
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "template.h"
#include "template_int.h"

struct tmpl_render {
	const struct tmpl_set *set;
	struct buf            *out;
	struct json_object    *stack[TMPL_MAX_STACK]; /* innermost last */
	size_t                 depth;
	char                  *err;
	size_t                 errlen;
};

static int tmpl_render_range(struct tmpl_render *, const struct tmpl *, size_t,
    size_t);

int
tmpl_escape_html(struct buf *out, const char *s, size_t len)
{
	/*
	 * Beyond the usual five: ` closes attributes in old IE, and = matters
	 * in unquoted attribute values (the OWASP list).
	 */
	static const char        special[] = "&<>\"'`=";
	static const char *const ent[] = { "&amp;", "&lt;", "&gt;", "&quot;",
		"&#39;", "&#96;", "&#61;" };
	const char              *p;
	size_t                   i, run = 0, mark = out->len;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || (p = strchr(special, s[i])) == NULL)
			continue;
		if (buf_append(out, s + run, i - run) == -1 ||
		    buf_puts(out, ent[p - special]) == -1)
			goto fail;
		run = i + 1;
	}
	if (buf_append(out, s + run, len - run) == -1)
		goto fail;
	return 0;
fail:
	if (out->data != NULL) {
		out->len = mark;
		out->data[mark] = '\0';
	}
	return -1;
}

/*
 * Standard Mustache lookup: the first segment is searched from the
 * innermost context outward, the rest descend from what was found
 * without searching again.
 */
static struct json_object *
tmpl_lookup(const struct tmpl_render *r, const struct tmpl_node *n)
{
	struct json_object *v = NULL;
	const char         *seg = n->key;
	size_t              d, i;

	if (n->nseg == 0)
		return r->stack[r->depth - 1];
	for (d = r->depth; d > 0; d--)
		if (json_object_is_type(r->stack[d - 1], json_type_object) &&
		    json_object_object_get_ex(r->stack[d - 1], seg, &v))
			break;
	if (d == 0)
		return NULL;
	for (i = 1; i < n->nseg; i++) {
		seg += strlen(seg) + 1;
		if (!json_object_is_type(v, json_type_object) ||
		    !json_object_object_get_ex(v, seg, &v))
			return NULL;
	}
	return v;
}

/* Objects and arrays render as nothing: a JSON dump is never page text. */
static int
tmpl_put_value(struct buf *out, struct json_object *v, int escape)
{
	const char *s;
	size_t      len;

	switch (json_object_get_type(v)) {
	case json_type_string:
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		break;
	case json_type_int:
	case json_type_double:
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		if (s == NULL)
			return -1;
		len = strlen(s);
		break;
	case json_type_boolean:
		s = json_object_get_boolean(v) ? "true" : "";
		len = strlen(s);
		break;
	default:
		return 0;
	}
	return escape ? tmpl_escape_html(out, s, len) : buf_append(out, s, len);
}

static int
tmpl_truthy(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) != 0;
	case json_type_double:
		return json_object_get_double(v) != 0.0;
	case json_type_string:
		return json_object_get_string_len(v) > 0;
	case json_type_array:
		return json_object_array_length(v) > 0;
	case json_type_object:
		return 1;
	default:
		return 0;
	}
}

static int
tmpl_oom(struct tmpl_render *r)
{
	return tmpl_fail(r->err, r->errlen, NULL, 0, "out of memory");
}

/* Renders nodes [from, to) of t with v pushed on the context stack. */
static int
tmpl_render_with(struct tmpl_render *r, const struct tmpl *t, size_t from,
    size_t to, struct json_object *v)
{
	int rc;

	if (r->depth == TMPL_MAX_STACK)
		return tmpl_fail(r->err, r->errlen, t, 0,
		    "context stack deeper than %d", TMPL_MAX_STACK);
	r->stack[r->depth++] = v;
	rc = tmpl_render_range(r, t, from, to);
	r->depth--;
	return rc;
}

static int
tmpl_render_range(struct tmpl_render *r, const struct tmpl *t, size_t from,
    size_t to)
{
	const struct tmpl_node *n;
	const struct tmpl      *p;
	struct json_object     *v;
	size_t                  i = from, k;

	while (i < to) {
		n = &t->nodes[i];
		switch (n->op) {
		case TMPL_TEXT:
			if (buf_append(r->out, t->src + n->off, n->len) == -1)
				return tmpl_oom(r);
			break;
		case TMPL_VAR:
		case TMPL_RAW:
			if (tmpl_put_value(r->out, tmpl_lookup(r, n),
			        n->op == TMPL_VAR) == -1)
				return tmpl_oom(r);
			break;
		case TMPL_SECTION:
			v = tmpl_lookup(r, n);
			if (json_object_is_type(v, json_type_array)) {
				for (k = 0; k < json_object_array_length(v);
				     k++)
					if (tmpl_render_with(r, t, i + 1,
					        n->end,
					        json_object_array_get_idx(v,
					            k)) == -1)
						return -1;
			} else if (tmpl_truthy(v) &&
			    tmpl_render_with(r, t, i + 1, n->end, v) == -1)
				return -1;
			i = n->end;
			continue;
		case TMPL_INVERTED:
			if (!tmpl_truthy(tmpl_lookup(r, n)) &&
			    tmpl_render_range(r, t, i + 1, n->end) == -1)
				return -1;
			i = n->end;
			continue;
		case TMPL_PARTIAL:
			p = &r->set->t[n->partial];
			if (tmpl_render_range(r, p, 0, p->nnodes) == -1)
				return -1;
			break;
		}
		i++;
	}
	return 0;
}

int
tmpl_render(const struct tmpl_set *set, const char *name,
    struct json_object *ctx, struct buf *out, char *err, size_t errlen)
{
	struct tmpl_render r;
	const struct tmpl *t;
	size_t             i, mark = out->len;

	if (set == NULL || (i = tmpl_index(set, name)) == set->n)
		return tmpl_fail(err, errlen, NULL, 0,
		    "unknown template \"%.*s\"", TMPL_QUOTE_MAX,
		    name ? name : "(null)");
	t = &set->t[i];
	memset(&r, 0, sizeof(r));
	r.set = set;
	r.out = out;
	r.err = err;
	r.errlen = errlen;
	r.stack[r.depth++] = ctx;
	if (tmpl_render_range(&r, t, 0, t->nnodes) == -1) {
		/* Never leave half a page for the caller to send. */
		if (out->data != NULL) {
			out->len = mark;
			out->data[mark] = '\0';
		}
		return -1;
	}
	return 0;
}
