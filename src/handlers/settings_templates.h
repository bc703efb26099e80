/*
 * settings_templates: the settings page's Templates card
 * (settings_templates.c).
 */
#ifndef WABA_HANDLERS_SETTINGS_TEMPLATES_H
#define WABA_HANDLERS_SETTINGS_TEMPLATES_H

struct conn_page;
struct json_object;

/*
 * d.templates: counts [{status, count}] (none: true when no template
 * was ever reported), troubled [{id, name, language, status, reason}]
 * (the reason in plain words); nothing when the workspace holds no
 * token.
 */
void settings_templates(struct json_object *d, const struct conn_page *);

#endif
