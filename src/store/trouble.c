/*
 * store_tr_*: the trouble webhooks applied (store/trouble.h). A warning
 * from a webhook is kept under its code and a key (the number, the
 * alert type, the template) until a later webhook says the trouble is
 * over: FLAGGED until UNFLAGGED, a rejected name until one is approved,
 * an ACTIVE alert until its NONE. Meta sends nothing that ends a PIN
 * change: that warning stays until the workspace disconnects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../webhook.h"
#include "sql.h"
#include "trouble.h"
#include "workspaces.h"

/* A number's id from the digits of its display_phone_number; "" if none. */
static enum store_rc
tr_phone(MYSQL *my, const struct workspace *ws, const char *digits,
    char out[33])
{
	struct sq     q;
	enum store_rc rc;

	*out = '\0';
	if (digits == NULL || *digits == '\0')
		return STORE_OK;
	rc = sq_one_on(&q, my, SQ_ARGS(SQ_S(digits)),
	    "SELECT id FROM `%s`.phone_numbers WHERE REGEXP_REPLACE("
	    "display_phone_number, '[^0-9]', '') = ? LIMIT 1",
	    ws->db_name);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	snprintf(out, 33, "%s", sq_col(&q, 0) ? sq_col(&q, 0) : "");
	sq_close(&q);
	return STORE_OK;
}

/*
 * Sets (message not NULL) or clears the webhook warning code/key, the
 * health row locked; a row is made when the monitor has written none.
 */
static enum store_rc
tr_warn(MYSQL *my, const struct workspace *ws, const char *code,
    const char *key, const char *phone, const char *message)
{
	struct sq     q;
	json_object  *a = NULL, *n = NULL, *w, *v;
	const char   *s;
	size_t        i, len;
	enum store_rc rc;

	rc = sq_one_on(&q, my, NULL,
	    "SELECT hook_warnings FROM `%s`.health WHERE id = 1 FOR UPDATE",
	    ws->db_name);
	if (rc == STORE_OK) {
		if (sq_col(&q, 0) != NULL)
			a = json_tokener_parse(sq_col(&q, 0));
		sq_close(&q);
	} else if (rc != STORE_NOTFOUND)
		return rc;
	if ((n = json_object_new_array()) == NULL) {
		rc = STORE_ERR;
		goto out;
	}
	len = a && json_object_is_type(a, json_type_array)
	    ? json_object_array_length(a)
	    : 0;
	for (i = 0; i < len; i++) {
		w = json_object_array_get_idx(a, i);
		if (json_object_object_get_ex(w, "code", &v) &&
		    strcmp(json_object_get_string(v), code) == 0 &&
		    json_object_object_get_ex(w, "key", &v) &&
		    strcmp(json_object_get_string(v), key) == 0)
			continue;
		json_object_array_add(n, json_object_get(w));
	}
	if (message != NULL && (w = json_object_new_object()) != NULL) {
		json_object_object_add(w, "code", json_object_new_string(code));
		json_object_object_add(w, "message",
		    json_object_new_string(message));
		if (phone != NULL && *phone)
			json_object_object_add(w, "phone_number_id",
			    json_object_new_string(phone));
		json_object_object_add(w, "source",
		    json_object_new_string("webhook"));
		json_object_object_add(w, "key", json_object_new_string(key));
		json_object_array_add(n, w);
	}
	if ((s = json_object_to_json_string_ext(n,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
	    NULL) {
		rc = STORE_ERR;
		goto out;
	}
	rc = sq_do_on(my, SQ_ARGS(SQ_S(s)),
	    "INSERT INTO `%s`.health (id, hook_warnings) VALUES (1, ?) "
	    "ON DUPLICATE KEY UPDATE hook_warnings = VALUES(hook_warnings)",
	    ws->db_name);
out:
	json_object_put(a);
	json_object_put(n);
	return rc;
}

/* "+15550100" for people, or "the WhatsApp Business Account". */
static void
tr_who(char *dst, size_t size, const char *digits)
{
	if (digits && *digits)
		snprintf(dst, size, "+%s", digits);
	else
		snprintf(dst, size, "the WhatsApp Business Account");
}

static enum store_rc
tr_template(MYSQL *my, const struct workspace *ws,
    const struct webhook_event *e)
{
	char msg[2400];
	int  status = strcmp(e->event, "message_template_status_update") == 0;
	int  quality = strcmp(e->event, "message_template_quality_update") == 0;
	long long     t = e->timestamp > 0 ? e->timestamp : 0;
	enum store_rc rc;

	/*
	 * One row per template id. A status older than the one stored (a
	 * redelivery after a newer review) does not overwrite it.
	 */
	rc = sq_do_on(my,
	    SQ_ARGS(SQ_S(e->id), SQ_S(*e->name ? e->name : NULL),
	        SQ_S(*e->type ? e->type : NULL),
	        SQ_S(status ? e->status : NULL),
	        SQ_S(*e->category ? e->category : NULL),
	        SQ_S(quality ? e->status : NULL),
	        SQ_S(status && *e->text ? e->text : NULL), SQ_I(status),
	        SQ_I(t), SQ_I(t)),
	    "INSERT INTO `%1$s`.templates (id, name, language, status, "
	    "category, quality, reason, status_at, updated_at) SELECT ?, ?, "
	    "?, ?, ?, ?, ?, IF(?, IF(? = 0, UTC_TIMESTAMP(), DATE_ADD('1970-01-01 00:00:00', "
	    "INTERVAL ? SECOND)), "
	    "NULL), UTC_TIMESTAMP() FROM DUAL ON DUPLICATE KEY UPDATE "
	    "name = COALESCE(VALUES(name), name), "
	    "language = COALESCE(VALUES(language), language), "
	    "reason = IF(VALUES(status) IS NULL OR VALUES(status_at) < "
	    "status_at, reason, VALUES(reason)), "
	    "status = IF(VALUES(status) IS NULL OR VALUES(status_at) < "
	    "status_at, status, VALUES(status)), "
	    "status_at = GREATEST(COALESCE(status_at, VALUES(status_at)), "
	    "COALESCE(VALUES(status_at), status_at)), "
	    "category = COALESCE(VALUES(category), category), "
	    "quality = COALESCE(VALUES(quality), quality), "
	    "updated_at = UTC_TIMESTAMP()",
	    ws->db_name);
	if (rc != STORE_OK || !status)
		return rc;
	/* A paused or disabled template fails every send that uses it. */
	if (strcmp(e->status, "PAUSED") == 0 ||
	    strcmp(e->status, "DISABLED") == 0) {
		snprintf(msg, sizeof(msg),
		    "Template %s (%s) is %s by Meta%s%s: messages using it "
		    "fail.",
		    *e->name ? e->name : e->id, *e->type ? e->type : "-",
		    e->status, *e->text ? ": " : "", e->text);
		return tr_warn(my, ws, "template", e->id, NULL, msg);
	}
	return tr_warn(my, ws, "template", e->id, NULL, NULL);
}

static enum store_rc
tr_phone_quality(MYSQL *my, const struct workspace *ws,
    const struct webhook_event *e)
{
	char          id[33], who[170], msg[2400];
	enum store_rc rc;

	if ((rc = tr_phone(my, ws, e->from, id)) != STORE_OK)
		return rc;
	tr_who(who, sizeof(who), e->from);
	if (strcmp(e->status, "FLAGGED") == 0) {
		snprintf(msg, sizeof(msg),
		    "%s: Meta flagged the number's quality (%s): unless it "
		    "improves within 7 days, its messaging limit is lowered.",
		    who, e->text);
		return tr_warn(my, ws, "quality_flagged", e->from, id, msg);
	}
	if (strcmp(e->status, "DOWNGRADE") == 0) {
		snprintf(msg, sizeof(msg),
		    "%s: Meta lowered the messaging limit (%s).", who, e->text);
		return tr_warn(my, ws, "messaging_limit", e->from, id, msg);
	}
	if (strcmp(e->status, "UNFLAGGED") == 0 ||
	    strcmp(e->status, "UPGRADE") == 0) {
		if ((rc = tr_warn(my, ws, "quality_flagged", e->from, id,
		         NULL)) != STORE_OK)
			return rc;
		return tr_warn(my, ws, "messaging_limit", e->from, id, NULL);
	}
	return STORE_OK;
}

static enum store_rc
tr_notice(MYSQL *my, const struct workspace *ws, const struct webhook_event *e)
{
	char          id[33], who[170], msg[2400];
	enum store_rc rc;

	if ((rc = tr_phone(my, ws, e->from, id)) != STORE_OK)
		return rc;
	tr_who(who, sizeof(who), e->from);
	if (strcmp(e->type, "phone_number_name_update") == 0) {
		if (strcmp(e->status, "REJECTED") != 0)
			return tr_warn(my, ws, "display_name", e->from, id,
			    NULL);
		snprintf(msg, sizeof(msg),
		    "%s: Meta rejected the display name \"%s\"%s%s: change it "
		    "in WhatsApp Manager.",
		    who, e->name, *e->text ? ": " : "", e->text);
		return tr_warn(my, ws, "display_name", e->from, id, msg);
	}
	if (strcmp(e->type, "account_alerts") == 0) {
		if (strcmp(e->status, "ACTIVE") != 0)
			return tr_warn(my, ws, "account_alert", e->event, NULL,
			    NULL);
		if (strncmp(e->text, "INFORMATIONAL", 13) == 0)
			return STORE_OK;
		snprintf(msg, sizeof(msg), "Meta alert %s (%s)", e->event,
		    e->text);
		return tr_warn(my, ws, "account_alert", e->event, id, msg);
	}
	if (strcmp(e->type, "account_review_update") == 0) {
		if (strcmp(e->status, "APPROVED") == 0)
			return tr_warn(my, ws, "account_review", "waba", NULL,
			    NULL);
		snprintf(msg, sizeof(msg),
		    "Meta's review of the WhatsApp Business Account: %s; "
		    "until it is approved the account cannot be used to send "
		    "messages.",
		    e->status);
		return tr_warn(my, ws, "account_review", "waba", NULL, msg);
	}
	if (strcmp(e->type, "security") == 0) {
		if (strcmp(e->status, "PIN_CHANGED") != 0 &&
		    strcmp(e->status, "PIN_RESET_REQUEST") != 0 &&
		    strcmp(e->status, "PIN_RESET_SUCCESS") != 0)
			return STORE_OK;
		snprintf(msg, sizeof(msg),
		    "%s: %s in WhatsApp Manager: the two-step verification "
		    "PIN stored here for the number may be stale; enter the "
		    "current PIN when you register it again.",
		    who,
		    strcmp(e->status, "PIN_CHANGED") == 0
		        ? "its PIN was changed"
		        : strcmp(e->status, "PIN_RESET_REQUEST") == 0
		        ? "a reset of its PIN was requested"
		        : "its PIN was reset");
		return tr_warn(my, ws, "pin", e->from, id, msg);
	}
	return STORE_OK; /* business_capability_update: stored only */
}

/* The account_update events that warn without cutting the connection. */
static enum store_rc
tr_account(MYSQL *my, const struct workspace *ws, const struct webhook_event *e)
{
	char msg[2400];

	if (strcmp(e->event, "ACCOUNT_VIOLATION") == 0) {
		snprintf(msg, sizeof(msg),
		    "Meta reports a policy violation on the WhatsApp Business "
		    "Account (%s): repeated violations lead to restrictions.",
		    e->text);
		return tr_warn(my, ws, "account_violation", "waba", NULL, msg);
	}
	if (strcmp(e->event, "DISABLED_UPDATE") != 0)
		return STORE_OK;
	if (strstr(e->text, "ban state SCHEDULE_FOR_DISABLE") != NULL) {
		snprintf(msg, sizeof(msg),
		    "Meta scheduled the WhatsApp Business Account to be "
		    "disabled (%s): appeal in WhatsApp Manager.",
		    e->text);
		return tr_warn(my, ws, "disable_scheduled", "waba", NULL, msg);
	}
	return tr_warn(my, ws, "disable_scheduled", "waba", NULL, NULL);
}

enum store_rc
store_tr_apply_on(MYSQL *my, const struct workspace *ws,
    const struct webhook_event *e)
{
	switch (e->kind) {
	case WEBHOOK_TEMPLATE:
		return tr_template(my, ws, e);
	case WEBHOOK_PHONE_QUALITY:
		return tr_phone_quality(my, ws, e);
	case WEBHOOK_NOTICE:
		return tr_notice(my, ws, e);
	case WEBHOOK_ACCOUNT_UPDATE:
		return tr_account(my, ws, e);
	default:
		return STORE_OK;
	}
}

char *
store_tr_merge(const char *mon, const char *hooks)
{
	json_object *a, *h, *w, *c;
	const char  *s;
	char        *out = NULL;
	size_t       i, n;

	if ((a = mon ? json_tokener_parse(mon) : NULL) == NULL ||
	    !json_object_is_type(a, json_type_array)) {
		json_object_put(a);
		if ((a = json_object_new_array()) == NULL)
			return NULL;
	}
	h = hooks ? json_tokener_parse(hooks) : NULL;
	n = h && json_object_is_type(h, json_type_array)
	    ? json_object_array_length(h)
	    : 0;
	for (i = 0; i < n; i++) {
		w = json_object_array_get_idx(h, i);
		c = NULL; /* json_object_deep_copy wants it so */
		if (json_object_deep_copy(w, &c, NULL) != 0)
			continue;
		json_object_object_del(c, "key");
		json_object_array_add(a, c);
	}
	s = json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		out = strdup(s);
	json_object_put(a);
	json_object_put(h);
	return out;
}
