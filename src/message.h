/*
 * message: the body of POST /api/v1/w/{slug}/messages (doc/contract.md,
 * Internal API: Sending messages), a Cloud API message object, checked
 * at the edge before anything else happens: its members, the recipient's
 * shape, the type and its object. What reaches Meta is this object as
 * the client sent it, with "from" (ours) taken out and messaging_product
 * put in (graph_json_message); Meta checks the content of the type's
 * object itself, and its refusal is answered 422.
 */
#ifndef WABA_MESSAGE_H
#define WABA_MESSAGE_H

#include <stddef.h>

struct json_object;

#define MSG_TO_MAX      140 /* a BSUID: CC[.ENT].{1,128} */
#define MSG_CONTEXT_MAX 1024
#define MSG_OPAQUE_MAX  512 /* biz_opaque_callback_data, Meta's limit */

/*
 * The message types Meta's "Messages" reference documents for sending,
 * NULL-terminated (the route's IN_ENUM for "type").
 */
extern const char *const msg_types[];
/* "individual", "group" (recipient_type), NULL-terminated. */
extern const char *const msg_recipient_types[];

/*
 * Checks body, a parsed JSON object: 0, or -1 with a sentence for the
 * client in err (naming the member). Beyond the route's declared fields:
 * no member outside the message object's (and "from"); the type's own
 * object present and an object (contacts: a non-empty array), no other
 * type's; to a phone number
 * ("+" and 5 to 20 digits), a business-scoped user id (CC.xxx or
 * CC.ENT.xxx) or, for recipient_type "group", a group id;
 * messaging_product, when given, "whatsapp"; context {"message_id"} with
 * a message id; biz_opaque_callback_data a string of at most
 * MSG_OPAQUE_MAX bytes.
 */
int msg_check(struct json_object *body, char *err, size_t errlen);

#endif
