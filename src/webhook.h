/*
 * webhook: Meta's WhatsApp Business webhook deliveries
 * (doc/architecture.md, The webhook path), checked and parsed at the edge
 * into typed, length-bounded events.
 *
 * webhook_signature_ok() says whether a raw body really comes from Meta;
 * webhook_parse() turns a delivery into a flat list of events (inbound
 * messages, delivery statuses, asynchronous errors, account_update
 * notices, and for coexistence numbers the echoes of messages sent from
 * the WhatsApp Business app, its contacts and its chat history);
 * webhook_event_is_loss() says which account_update events mean the
 * connection is gone. Nothing here touches the database or the
 * network: the webhooks handler routes the events and stores them.
 *
 * Details the declarations below leave open:
 * - ids, status, type and event names must be [A-Za-z0-9._+/=-] and fit
 *   their field, else the item is skipped; a message's type may be absent
 *   (""); ids in waba_id and phone_number_id are digits only; a message's
 *   sender is its "from" (digits) or, for users whose number Meta
 *   withholds, its "from_user_id" (CC.[ENT.]alphanumerics).
 * - on a refusal the batch is emptied (n 0, ev NULL): nothing
 *   half-stored.
 * - PARTNER_CLIENT_CERTIFICATION_* events arrive on the WABA's own entry
 *   and need no waba_info; all other PARTNER_* events do.
 * - account_update text is "EVENT" or "EVENT: details", e.g.
 *   "DISABLED_UPDATE: ban state DISABLE (June 15, 2025)" or
 *   "ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING until
 *   2025-06-22 15:08 UTC"; webhook_event_is_loss() reads it back.
 * - losses: PARTNER_REMOVED, PARTNER_APP_UNINSTALLED, ACCOUNT_DELETED,
 *   ACCOUNT_OFFBOARDED, ACCOUNT_RESTRICTION, DISABLED_UPDATE with ban
 *   state DISABLE (not SCHEDULE_FOR_DISABLE or REINSTATE). reason is
 *   always set ("" when 0) if reasonlen > 0.
 */
#ifndef WABA_WEBHOOK_H
#define WABA_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_MAX_EVENTS 1000 /* per delivery; more is malformed */

enum webhook_kind {
	WEBHOOK_MESSAGE,
	WEBHOOK_STATUS,
	WEBHOOK_ERROR,
	WEBHOOK_ACCOUNT_UPDATE,
	WEBHOOK_ECHO,       /* smb_message_echoes: sent from the app */
	WEBHOOK_STATE_SYNC, /* smb_app_state_sync: an app contact */
	WEBHOOK_HISTORY,    /* history: a chunk of the app's chats */
	/*
	 * The WABA fields that say something is wrong (doc/architecture.md,
	 * Trouble webhooks), none about one number's metadata:
	 */
	WEBHOOK_TEMPLATE,      /* message_template_status_update,
	                     message_template_quality_update,
	                     template_category_update */
	WEBHOOK_PHONE_QUALITY, /* phone_number_quality_update */
	WEBHOOK_NOTICE         /* phone_number_name_update, account_alerts,
	                  account_review_update, business_capability_update,
	                  security: the field in type */
};

/*
 * One event of a delivery. By field:
 * - waba_id: entry[].id, except for PARTNER_* account_update events,
 *   whose entry.id is the partner business: there
 *   value.waba_info.waba_id.
 * - phone_number_id: value.metadata.phone_number_id; "" for
 *   account_update.
 * - id: message: messages[].id; status: statuses[].id; echo:
 *   message_echoes[].id; else "".
 * - status: status: sent|delivered|read|failed|...; state_sync: its
 *   action (add|remove); else "".
 * - from: message: messages[].from (digits), else from_user_id (a
 *   business-scoped user id, "US.1349…", when Meta withholds the
 *   number); status: recipient_id; echo: from (the business's number);
 *   state_sync: contact.phone_number.
 * - to: echo: to (digits), else to_user_id: the customer; else "".
 * - type: message, echo: type (text, image, ...); state_sync: type
 *   (contact).
 * - text: message: text.body (other types: ""); failed status:
 *   errors[0].title/message; error: errors[].message or title;
 *   account_update: a short summary for people, e.g. "PARTNER_REMOVED"
 *   or the restriction or ban; echo: "to TO: body" ("to TO: (type)" for
 *   other types); state_sync: "add contact: Full Name" or "remove
 *   contact"; history: "phase P, chunk C, progress N%: T threads, M
 *   messages" (-1 for a chunk_order or progress not given), or "error
 *   CODE: message".
 * - code: the error code of errors, failed statuses and history errors,
 *   else 0.
 * - timestamp: messages, statuses, echoes: their "timestamp" (a decimal
 *   string in Meta's payloads); state_sync: metadata.timestamp;
 *   account_update: entry.time; 0 when absent (history).
 * - event: account_update: value.event; else "".
 * - until: ACCOUNT_RESTRICTION: when the last of its restrictions ends
 *   (Unix time), 0 when any has no numeric expiration.
 * The trouble fields (entry.id the WABA; timestamp entry.time):
 * - template: event the field; id message_template_id (digits); name
 *   message_template_name; type message_template_language; status the
 *   new value: event (APPROVED, REJECTED, PAUSED, ...),
 *   new_quality_score or new_category; category
 *   message_template_category or new_category; text Meta's reason
 *   (reason unless NONE, other_info's description or title) or the
 *   change ("quality GREEN -> YELLOW", "category UTILITY ->
 *   MARKETING", "category to become MARKETING" for an impending one).
 * - phone quality: from display_phone_number (digits); status event
 *   (FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE, ...); text "EVENT: limit
 *   OLD -> CURRENT" from old_limit and current_limit (or
 *   max_daily_conversations_per_business).
 * - notice: type the field; phone_number_name_update: from
 *   display_phone_number, status decision, name
 *   requested_verified_name, text rejection_reason; account_alerts:
 *   from entity_id, status alert_info.alert_status, event
 *   alert_info.alert_type, type-independent text "SEVERITY: description";
 *   account_review_update: status decision; business_capability_update:
 *   text its limits; security: from display_phone_number, status event
 *   (PIN_CHANGED, PIN_RESET_REQUEST, PIN_RESET_SUCCESS).
 */
struct webhook_event {
	enum webhook_kind kind;
	char              waba_id[33];
	char              phone_number_id[33];
	char              id[192];
	char              status[32];
	char              from[160];
	char              to[160];
	char              type[32];
	char              text[1025];
	long              code;
	int64_t           timestamp;
	char              event[64];
	int64_t           until;
	char              name[513]; /* template name; requested name */
	char              category[32];
	/*
	 * What Meta sent, whole, as JSON text (json-c's serialization of
	 * Meta's own object: same members and values, whitespace aside),
	 * for the events feed; malloc'd, owned by the batch
	 * (webhook_batch_free), NULL when there is none or it would be
	 * longer than the delivery itself:
	 * - object: message: the messages[] item; status: the statuses[]
	 *   item; error: the value.errors[] item; echo: the
	 *   message_echoes[] item; state_sync, history: their item;
	 *   account_update: the change's value.
	 * - metadata: value.metadata of a change about a number.
	 * - contact: message: the value.contacts[] entry whose wa_id is
	 *   the sender's number (or user_id its business-scoped id), else
	 *   the only entry there is.
	 */
	char *object;
	char *metadata;
	char *contact;
};

struct webhook_batch {
	struct webhook_event *ev;
	size_t                n;
	size_t                skipped; /* malformed items skipped */
};

/*
 * 1 when header is exactly "sha256=" and 64 hex digits (either case)
 * equal to HMAC-SHA256(app_secret, body), compared in constant time; 0
 * otherwise (NULL header, wrong prefix, truncated, non-hex, wrong
 * value).
 */
int webhook_signature_ok(const char *app_secret, const char *header,
    const void *body, size_t len);
/* What webhook_parse made of a delivery. */
enum webhook_err {
	WEBHOOK_OK,
	WEBHOOK_MALFORMED, /* not a delivery: acknowledge, never retried */
	WEBHOOK_NOMEM      /* ours, not Meta's: answer so that Meta retries */
};

/*
 * Parses a delivery. Returns WEBHOOK_NOMEM when we ran out of memory,
 * WEBHOOK_MALFORMED (err says why) when the body is not JSON, is nested
 * deeper than 16, is not an object, "object" is not
 * "whatsapp_business_account", "entry" is not an array, or it holds
 * more than WEBHOOK_MAX_EVENTS events. Otherwise WEBHOOK_OK: every
 * well-formed item becomes an event; an entry, change or item with
 * missing or wrong-typed required fields is skipped and counted in
 * skipped (never a crash). Fields other than messages,
 * smb_message_echoes, smb_app_state_sync, history, account_update and
 * the trouble fields (struct webhook_event) are skipped (counted).
 *
 * Required: entry[].id (string of digits); changes[].field (string);
 * changes[].value (object); for the fields about a number (messages,
 * smb_message_echoes, smb_app_state_sync, history):
 * value.metadata.phone_number_id (digit string).
 * - messages: messages[].id (string, 1..191), messages[].from (digits),
 *   statuses[].id, statuses[].status (string), statuses[].recipient_id
 *   (digit string, may be absent for some types: then ""),
 *   errors[].code (int).
 * - smb_message_echoes: message_echoes[].id, .from (digits), .to
 *   (digits) or .to_user_id.
 * - smb_app_state_sync: state_sync[].type, .action,
 *   .contact.phone_number (digits).
 * - history: history[].errors[0].code (int), else
 *   history[].metadata.phase (a number or digit string; threads may be
 *   absent: 0).
 * - account_update: value.event (string); PARTNER_* events need
 *   value.waba_info.waba_id (digit string).
 * - template fields: value.message_template_id (number or digits);
 *   message_template_status_update also value.event.
 * - phone_number_quality_update, phone_number_name_update, security:
 *   value.display_phone_number (digits) and value.event (decision
 *   for the name); account_alerts: value.alert_info.alert_type and
 *   .alert_status; account_review_update: value.decision.
 *
 * Strings too long for their field: that item is skipped (ids) or the
 * text cut on a UTF-8 boundary. out is zeroed first; free it with
 * webhook_batch_free even on error (it frees each event's object,
 * metadata and contact too).
 */
enum webhook_err webhook_parse(const char *body, size_t len,
    struct webhook_batch *out, char *err, size_t errlen);
void             webhook_batch_free(struct webhook_batch *);
/*
 * For account_update: 1 when the event means our access is gone or the
 * account cannot be used (PARTNER_REMOVED, PARTNER_APP_UNINSTALLED,
 * ACCOUNT_DELETED, DISABLED_UPDATE with a ban state,
 * ACCOUNT_RESTRICTION...), with a reason in plain words for the settings
 * page in reason (e.g. "the business removed this app from its WhatsApp
 * account"). 0 for PARTNER_ADDED and informational events.
 */
int webhook_event_is_loss(const struct webhook_event *, char *reason,
    size_t reasonlen);
/*
 * For account_update: what it says about the account's standing with
 * Meta, which a new token does not change: WEBHOOK_RESTRICTED
 * (ACCOUNT_RESTRICTION; DISABLED_UPDATE with ban state DISABLE;
 * ACCOUNT_OFFBOARDED), WEBHOOK_LIFTED (DISABLED_UPDATE with ban state
 * REINSTATE; ACCOUNT_RESTRICTION whose restriction_info is an empty
 * list; ACCOUNT_RECONNECTED, which lifts ACCOUNT_OFFBOARDED),
 * WEBHOOK_NEUTRAL for anything else (our access lost or granted,
 * informational events).
 */
enum webhook_standing {
	WEBHOOK_LIFTED = -1,   /* Meta lifted a restriction or ban */
	WEBHOOK_NEUTRAL = 0,   /* nothing about the account's standing */
	WEBHOOK_RESTRICTED = 1 /* restricted or banned */
};
enum webhook_standing webhook_event_standing(const struct webhook_event *);

#endif
