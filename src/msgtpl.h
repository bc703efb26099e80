/*
 * msgtpl: the message template object a service submits to POST
 * /api/v1/w/{slug}/templates (doc/contract.md, Internal API), checked
 * member by member at the edge and rebuilt as the JSON body Meta's
 * POST /{waba_id}/message_templates takes, so nothing malformed or
 * unknown reaches Meta with the workspace's token.
 */
#ifndef WABA_MSGTPL_H
#define WABA_MSGTPL_H

#include <stddef.h>

struct json_object;

#define MSGTPL_NAME_MAX       512 /* Meta: a name is at most 512 */
#define MSGTPL_COMPONENTS_MAX 10

/* 1 when s (len bytes) is a template name: [a-z0-9_]{1,512}. */
int msgtpl_name_ok(const char *s, size_t len);
/* 1 when s is a language code as Meta writes them: en, en_US, fil. */
int msgtpl_language_ok(const char *s);
/*
 * Checks the template object obj and writes Meta's body into *out
 * (malloc'd, free()). 0, or -1 with err naming the member and what is
 * wrong with it (for a 400's message); *out is then NULL. Nothing in
 * obj is changed.
 */
int msgtpl_json(struct json_object *obj, char **out, char *err, size_t errlen);

#endif
