/*
 * template: the project's only HTML writer, a Mustache subset rendering
 * json-c values. Templates are compiled once at startup (tmpl_load_dir);
 * rendering never parses template text again.
 *
 * Supported: {{name}} (escaped), {{{name}}} and {{& name}} (raw), dotted
 * names and {{.}}, {{#section}}, {{^inverted}}, {{>partial}}, {{! comment}},
 * and Mustache's standalone-line rule. Not supported: set delimiters
 * (a load error), lambdas.
 */
#ifndef WABA_TEMPLATE_H
#define WABA_TEMPLATE_H

#include <stddef.h>

struct json_object;
struct buf;
struct tmpl_set; /* every template of one directory, compiled */

/*
 * Loads and compiles every "*.html" file in dir (non-recursive). The
 * template's name is the file name without ".html". Partials ({{>name}})
 * are resolved at load time against the set; a missing partial, an
 * unbalanced or mismatched section, an unterminated tag, an empty tag
 * name, bad characters in a name, or partial recursion deeper than 16
 * (any include cycle) is a load error. On error returns NULL and writes
 * "file:line: reason" into err (file: the template's file name, e.g.
 * "layout.html:12: unclosed section \"items\""). Files whose name
 * starts with "." are skipped (editor droppings). The set is owned by
 * the caller: tmpl_free() it.
 */
struct tmpl_set *tmpl_load_dir(const char *dir, char *err, size_t errlen);
/*
 * Same, from memory, for tests: names[i] -> sources[i], n entries; file
 * names in errors are names[i] + ".html".
 */
struct tmpl_set *tmpl_load_mem(const char *const *names,
    const char *const *sources, size_t n, char *err, size_t errlen);
/* Returns 1 when the set has a template of that name, else 0. */
int tmpl_exists(const struct tmpl_set *, const char *name);
/*
 * Renders template `name` with context ctx (a json object; may be NULL)
 * appending to out. Returns 0, or -1 with a message in err (unknown
 * template, allocation failure). On -1, out is left as it was before the
 * call: never half a page.
 */
int  tmpl_render(const struct tmpl_set *, const char *name,
     struct json_object *ctx, struct buf *out, char *err, size_t errlen);
void tmpl_free(struct tmpl_set *);
/*
 * The one HTML escaper of the project: & < > " ' ` = escaped as &amp;
 * &lt; &gt; &quot; &#39; &#96; &#61;. Returns 0, or -1 on allocation
 * failure with out unchanged.
 */
int tmpl_escape_html(struct buf *out, const char *s, size_t len);

#endif
