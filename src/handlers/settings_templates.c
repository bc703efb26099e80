/*
 * settings_templates: the settings page's Templates card, from the
 * templates table that Meta's template webhooks keep (store/trouble.c),
 * read in store_conn_page's one statement: how many templates are in
 * each status, and the rejected, paused or disabled ones with Meta's
 * reason in plain words.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "../store/connection.h"
#include "settings_templates.h"

/* Meta's rejection reasons ("Template review"), in plain words. */
static const char *
st_reason(const char *r)
{
	static const struct {
		const char *code, *words;
	} m[] = {
		{ "INVALID_FORMAT",
		    "the format is wrong (variables, length or "
		    "formatting): fix it and submit it again" },
		{ "INCORRECT_CATEGORY",
		    "the category does not fit the content" },
		{ "ABUSIVE_CONTENT", "Meta considers the content abusive" },
		{ "PROMOTIONAL",
		    "promotional content in a non-marketing template" },
		{ "SCAM", "Meta considers the content a scam" },
		{ "TAG_CONTENT_MISMATCH",
		    "the content does not match the template's category" },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(r, m[i].code) == 0)
			return m[i].words;
	return r;
}

static void
st_str(struct json_object *o, const char *k, struct json_object *from,
    const char *fk)
{
	struct json_object *v;

	if (json_object_object_get_ex(from, fk, &v) &&
	    json_object_is_type(v, json_type_string))
		json_object_object_add(o, k,
		    json_object_new_string(json_object_get_string(v)));
}

void
settings_templates(struct json_object *d, const struct conn_page *p)
{
	struct json_object *card, *counts, *list, *src, *bad, *t, *v;
	size_t              i, n;

	if (!p->conn.has_token)
		return;
	card = json_object_new_object();
	json_object_object_add(d, "templates", card);
	counts = json_object_new_array();
	json_object_object_add(card, "counts", counts);
	if (p->tpl_counts != NULL &&
	    (src = json_tokener_parse(p->tpl_counts)) != NULL) {
		json_object_object_foreach(src, status, k)
		{
			t = json_object_new_object();
			json_object_object_add(t, "status",
			    json_object_new_string(status));
			json_object_object_add(t, "count",
			    json_object_new_int64(json_object_get_int64(k)));
			json_object_array_add(counts, t);
		}
		json_object_put(src);
	}
	if (json_object_array_length(counts) == 0)
		json_object_object_add(card, "none",
		    json_object_new_boolean(1));
	if (p->tpl_troubled == NULL ||
	    (src = json_tokener_parse(p->tpl_troubled)) == NULL)
		return;
	list = json_object_new_array();
	n = json_object_is_type(src, json_type_array)
	    ? json_object_array_length(src)
	    : 0;
	for (i = 0; i < n; i++) {
		bad = json_object_array_get_idx(src, i);
		t = json_object_new_object();
		st_str(t, "id", bad, "id");
		st_str(t, "name", bad, "name");
		st_str(t, "language", bad, "language");
		st_str(t, "status", bad, "status");
		if (json_object_object_get_ex(bad, "reason", &v) &&
		    json_object_is_type(v, json_type_string))
			json_object_object_add(t, "reason",
			    json_object_new_string(
			        st_reason(json_object_get_string(v))));
		json_object_array_add(list, t);
	}
	if (n > 0)
		json_object_object_add(card, "troubled", list);
	else
		json_object_put(list);
	json_object_put(src);
}
