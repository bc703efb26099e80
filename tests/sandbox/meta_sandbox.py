#!/usr/bin/env python3
"""Meta sandbox: plays graph.facebook.com, Facebook Login's OAuth dialog and
the JavaScript SDK's Embedded Signup popup (connect.facebook.net/…/sdk.js).

waba-connect's integration tests and demo point meta.graph_base_url and
meta.dialog_base_url here, because tests cannot reach Meta.  Only the slice of
Meta that waba-connect uses is implemented, with Meta's response and error
shapes (see README.md in this directory for the sources and for the places
where Meta's documentation is silent and a plausible shape was chosen).

    python3 tests/sandbox/meta_sandbox.py --listen 127.0.0.1:8089 \\
        --app-id 1234567890 --app-secret-file secret.txt --app-name "WABA Connect" \\
        [--webhook-url http://127.0.0.1:8080/webhooks/meta] [--state-file state.json]

Python 3.11 standard library only.  All state sits behind one lock; request
threads never sleep or do network I/O while holding it.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import html
import http.server
import json
import os
import re
import secrets
import signal
import socket
import ssl
import string
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from datetime import datetime, timezone

# --- Fixture (deterministic; documented in README.md) ------------------------

BUSINESS_ID = "100220012345678"  # the merchant's business portfolio
BUSINESS_NAME = "Demo Merchant Ltd"
PARTNER_BUSINESS_ID = "200330098765432"  # our (the app owner's) portfolio
USER_ID = "10229870011223344"
USER_NAME = "Dana Demo"
WABA_1, WABA_2 = "102290129340398", "102290129340399"
PHONE_1, PHONE_2, PHONE_3 = "106540352242922", "106540352242923", "106540352242924"
# Onboarding states (issue 10), shared only in their own scenarios so that
# tests counting the numbers of WABA_1 / WABA_2 see what they always saw.
WABA_3, WABA_4 = "102290129340400", "102290129340401"
PHONE_UNVERIFIED, PHONE_NAME_PENDING = "106540352242925", "106540352242926"
PHONE_ELSEWHERE, PHONE_COEX = "106540352242927", "106540352242928"
CATALOG_ID = "880011223344556"
CUSTOMER_WA_ID, CUSTOMER_NAME = "16505551234", "Sheena Nelson"

SHORT_LIVED = 5400  # "expiring in hours"
LONG_LIVED = 5183944  # Meta's documented fb_exchange_token sample
DATA_ACCESS = 90 * 86400
CODE_TTL = 600
MAX_BODY = 1 << 20

ES_SCOPES = ["whatsapp_business_management", "whatsapp_business_messaging",
             "business_management"]
SCENARIOS = {"one_waba": ("One WABA with two phone numbers", [WABA_1]),
             "two_wabas": ("Two WABAs", [WABA_1, WABA_2]),
             "all_states": ("Three WABAs, numbers in every state",
                            [WABA_1, WABA_2, WABA_3]),
             "coexistence": ("A WhatsApp Business app number (coexistence)", [WABA_4])}
CODE_GRANTS = {"short": ("user_short", SHORT_LIVED),
               "long": ("user_long", LONG_LIVED),
               "system_user": ("system_user", 0)}
PERMISSIONS = {
    "whatsapp_business_management": "Manage your WhatsApp accounts and phone numbers",
    "whatsapp_business_messaging": "Send and receive WhatsApp messages for your business",
    "business_management": "Manage your business",
    "public_profile": "Your name and profile picture",
}
INJECT_ENDPOINTS = ("access_token", "exchange_token", "debug_token", "phone_numbers",
                    "phone", "register", "subscribed_apps", "messages", "catalog",
                    "deregister", "set_pin", "request_code", "verify_code", "smb_app_data",
                    # message_templates by method (issue 11): list, create, delete
                    "message_templates", "create_template", "delete_template")
# The onboarding errors are the very objects the sandbox's own rules raise
# (see Sandbox._register and friends), so an injected one looks like a real one.
INJECT_ERRORS = ("190", "429", "500", "131047", "timeout", "badjson", "html",
                 "133005", "133006", "133016", "2388001", "136024", "136025",
                 "drop")
# Media and resumable uploads (Sandbox.media_* below). "partial" is for the
# upload's data call: half the bytes are kept, then the edge's bare 504.
MEDIA_INJECT_ENDPOINTS = ("media", "media_object", "uploads", "upload_data",
                          "upload_status")
INJECT_ENDPOINTS = INJECT_ENDPOINTS + MEDIA_INJECT_ENDPOINTS
INJECT_ERRORS = INJECT_ERRORS + ("partial", "131053")
# Cloud API "Supported media types" (type -> largest size in bytes) and the
# Resumable Upload API's file_type values.
MEDIA_TYPES = {t: 16 << 20 for t in ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4",
                                     "audio/ogg", "video/3gpp", "video/3gp", "video/mp4")}
MEDIA_TYPES.update({t: 100 << 20 for t in (
    "text/plain", "application/pdf", "application/vnd.ms-powerpoint", "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
MEDIA_TYPES.update({"image/jpeg": 5 << 20, "image/png": 5 << 20, "image/webp": 500 << 10})
UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")
MAX_MEDIA_BODY = 32 << 20  # what the sandbox reads for media and uploads
# The Cloud API's refusals of one send (Meta's WhatsApp error codes table):
# injected by name, answered as Meta answers them (see MESSAGE_ERRORS).
MESSAGE_INJECT_ERRORS = ("131026", "131051", "131056", "131048", "param")
INJECT_ERRORS += MESSAGE_INJECT_ERRORS
WA_RATE_CODES = (80007, 80008, 130429, 131048, 131056)
BSUID_RE = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]+")  # a business-scoped user id, not a number
# Register and deregister together: Meta allows 10 calls per number in 72
# hours and answers 133016 after that. Config register_limit turns counting
# on (off by default: a long test run or demo reconnects far more often).
META_REGISTER_LIMIT, REGISTER_WINDOW = 10, 72 * 3600
VERIFY_CODE_TTL = 600
FIXTURE_VERSION = 2  # a --state-file of another version starts afresh
SDK_CODE_TTL = 30  # "The exchangeable token code has a time-to-live of 30 seconds"
SYNC_TYPES = ("smb_app_state_sync", "history")
# The WABA fields that say something is wrong, each as its webhook reference
# (developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/
# reference/<field>); message_template_status_update also comes from
# /_sandbox/templates/status, which changes the template too.
TROUBLE_KINDS = ("message_template_status_update", "message_template_quality_update",
                 "template_category_update", "phone_number_quality_update",
                 "phone_number_name_update", "account_alerts", "account_review_update",
                 "business_capability_update", "security")
WEBHOOK_KINDS = ("message", "status", "error", "account_update", "smb_message_echoes",
                 "smb_app_state_sync", "history") + TROUBLE_KINDS
# Message templates ("Message Templates" reference; webhook field
# message_template_status_update). Statuses a template can have, the events
# the control API plays, and the documented rejection reasons.
TEMPLATE_STATUSES = ("APPROVED", "IN_APPEAL", "PENDING", "REJECTED", "PENDING_DELETION",
                     "DELETED", "DISABLED", "PAUSED", "LIMIT_EXCEEDED", "ARCHIVED")
TEMPLATE_EVENTS = ("APPROVED", "REJECTED", "PAUSED", "DISABLED", "PENDING", "IN_APPEAL",
                   "FLAGGED", "REINSTATED", "ARCHIVED", "UNARCHIVED")
TEMPLATE_REASONS = ("NONE", "ABUSIVE_CONTENT", "INCORRECT_CATEGORY", "INVALID_FORMAT",
                    "PROMOTIONAL", "SCAM", "TAG_CONTENT_MISMATCH")
TEMPLATE_CATEGORIES = ("AUTHENTICATION", "MARKETING", "UTILITY")
TEMPLATE_FIELDS = ("id", "name", "language", "status", "category", "components",
                   "parameter_format", "quality_score", "rejected_reason", "sub_category",
                   "message_send_ttl_seconds")
TEMPLATE_DEFAULT = ["name", "parameter_format", "components", "language", "status",
                    "category", "id"]
LANGUAGE_NAMES = {"en": "English", "en_US": "English (US)", "en_GB": "English (UK)",
                  "de": "German", "fr": "French", "es": "Spanish", "pt_BR": "Portuguese (BR)"}
# Keys of a fixture number that are the sandbox's bookkeeping, never Graph fields.
NUMBER_INTERNAL = ("waba_id", "registered", "pin", "in_use_elsewhere", "verification",
                   "register_calls", "smb_sync")
# Screens of Embedded Signup, for CANCEL's current_step. PHONE_NUMBER_SETUP is
# Meta's documented example; the others are plausible names (see README).
ES_STEPS = ("BUSINESS_ACCOUNT_SELECTION", "WABA_PHONE_PROFILE_PICKER", "PHONE_NUMBER_SETUP",
            "PHONE_NUMBER_VERIFICATION", "PERMISSIONS")
# The merchant's WhatsApp Business app contacts and chats, for coexistence's
# smb_app_state_sync and history webhooks.
APP_CONTACTS = [(CUSTOMER_WA_ID, "Sheena Nelson", "Sheena"),
                ("447700900123", "Oliver Brown", "Oliver")]

# Messages Meta sends with OAuthException code 190, by error_subcode.
REVOKE_MESSAGES = {
    458: "Error validating access token: The user has not authorized application {app}.",
    459: "Error validating access token: The user is enrolled in a blocking, logged-in checkpoint",
    460: ("Error validating access token: The session has been invalidated because the user "
          "changed their password or Facebook has changed the session for security reasons."),
    464: ("Error validating access token: Sessions for the user are not allowed because the "
          "user is not a confirmed user."),
    467: "Error validating access token: The session is invalid because the user logged out.",
}
ALNUM = string.ascii_letters + string.digits
SAFE_QUERY_KEYS = {"client_id", "redirect_uri", "response_type", "config_id", "scope",
                   "fields", "grant_type", "endpoint", "limit", "decision", "scenario", "msg",
                   "outcome", "current_step", "code_method", "language", "sync_type",
                   "featureType", "origin", "phone_number_id", "waba_id"}
# urllib must never send loopback webhooks through an environment proxy.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def now():
    return int(time.time())


def new_token():
    """A user access token; Meta's start with EAA and are long and alphanumeric."""
    return "EAAG" + "".join(secrets.choice(ALNUM) for _ in range(180))


def fbtrace():
    return "A" + secrets.token_urlsafe(16)[:22]


def wamid(wa_id):
    """A message id shaped like Meta's: base64 of a small protobuf-ish record."""
    digits = wa_id.encode()[:30]
    raw = (b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x11\x18\x12"
           + secrets.token_hex(9).upper().encode() + b"\x00")
    return "wamid." + base64.b64encode(raw).decode()


def fb_time(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%A, %d-%b-%y %H:%M:%S UTC")


def expired_message(expires_at, at):
    return (f"Error validating access token: Session has expired on {fb_time(expires_at)}. "
            f"The current time is {fb_time(at)}.")


def digits_of(s):
    return re.sub(r"\D", "", str(s))


def redact_target(target):
    """A request target with every query value that could be a secret blanked."""
    path, _, query = target.partition("?")
    if not query:
        return path
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    shown = [f"{k}={v if k in SAFE_QUERY_KEYS else '[redacted]'}" for k, v in pairs]
    return path + "?" + "&".join(shown)


class GraphError(Exception):
    """A Graph API error: {"error": {message, type, code, error_subcode?, ...}}."""

    def __init__(self, status, message, code, type_="OAuthException", subcode=None,
                 transient=None, error_data=None, www=None, trace=None, user_title=None,
                 user_msg=None):
        super().__init__(message)
        self.trace = trace  # fbtrace_id to send; random when None
        self.user_title, self.user_msg = user_title, user_msg
        self.status, self.message, self.code, self.type = status, message, code, type_
        self.subcode, self.transient, self.error_data = subcode, transient, error_data
        self.www = www  # WWW-Authenticate reason, as Meta sends on OAuth errors

    def body(self):
        err = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.transient is not None:
            err["is_transient"] = self.transient
        if self.error_data is not None:
            err["error_data"] = self.error_data
        if self.user_title is not None:
            err["error_user_title"] = self.user_title
        if self.user_msg is not None:
            err["error_user_msg"] = self.user_msg
        err["fbtrace_id"] = self.trace or fbtrace()
        return {"error": err}


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class DialogError(Exception):
    def __init__(self, title, text):
        super().__init__(title)
        self.title, self.text = title, text


def err_object(obj_id, method):
    verb = method.lower()
    return GraphError(
        400, f"Unsupported {verb} request. Object with ID '{obj_id}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation. Please "
        "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        100, type_="GraphMethodException", subcode=33)


def err_param(message, details=None):
    data = {"messaging_product": "whatsapp", "details": details} if details else None
    return GraphError(400, message, 100, error_data=data)


def wa_error(code, title, details, status=400):
    """A Cloud API error as Meta's WhatsApp error table gives it: the title in
    the message, the explanation in error_data.details."""
    return GraphError(status, f"(#{code}) {title}", code,
                      error_data={"messaging_product": "whatsapp", "details": details})


def err_pin_mismatch():
    return wa_error(133005, "Two step verification PIN Mismatch",
                    "Two step verification PIN Mismatch")


def err_not_verified():
    return wa_error(133006, "Phone number re-verification needed",
                    "Phone number needs to be verified before registering.")


def err_register_limit():
    return wa_error(133016, "Account register deregister rate limit exceeded",
                    "Registration or Deregistration failed because there were too many "
                    "attempts for this phone number in a short period of time")


# Register's "Cannot Create Certificate" (100/2388001): the number's certificate
# comes from its approved display name, so Meta cannot make one while the name
# is not approved, nor for a number still registered to another WhatsApp account.
CERT_MESSAGES = {
    "in_use": ("This number is registered to an existing WhatsApp account. To use this "
               "number, disconnect it from the existing account."),
    "display_name": ("Your display name has not been approved yet. You can register this "
                     "number once the display name is approved."),
}


def err_certificate(variant="display_name"):
    return GraphError(400, "Invalid parameter", 100, subcode=2388001, transient=False,
                      user_title="Cannot Create Certificate",
                      user_msg=CERT_MESSAGES.get(variant, CERT_MESSAGES["display_name"]))


def err_request_code():
    return wa_error(136024, "Request code error",
                    "The verification code could not be sent. Try again later or use the "
                    "other code_method.")


def err_verify_code():
    return wa_error(136025, "Verify code error",
                    "The code does not match the last code sent to this number, or it "
                    "has expired.")


# -- sends: what Meta's POST /{phone}/messages checks and refuses --------------

# The types a business may send ("Messages" reference) and, for each, what
# Meta requires in the type's object before it accepts the message.
MESSAGE_TYPES = ("text", "image", "audio", "video", "document", "sticker", "location",
                 "contacts", "interactive", "template", "reaction")
MEDIA_MESSAGE_TYPES = ("image", "audio", "video", "document", "sticker")


def err_send_param(details):
    """Meta's answer to a send whose parameters are wrong (HTTP 400)."""
    return wa_error(131009, "Parameter value is not valid", details)


def check_message_object(p):
    """Raises Meta's error for a message object Meta would refuse; returns
    (type, the type's object) otherwise."""
    if p.get("messaging_product") != "whatsapp":
        raise err_param("(#100) The parameter messaging_product is required.")
    if not str(p.get("to") or ""):
        raise err_param("(#100) The parameter to is required.")
    kind = p.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise err_send_param(f"Unsupported message type: {kind}")
    if p.get("recipient_type", "individual") not in ("individual", "group"):
        raise err_send_param("recipient_type must be individual or group")
    obj = p.get(kind)
    if kind == "contacts":
        if not (isinstance(obj, list) and obj and all(isinstance(c, dict) and
                                                      isinstance(c.get("name"), dict)
                                                      for c in obj)):
            raise err_param("(#100) The parameter contacts['name'] is required.")
        return kind, obj
    if not isinstance(obj, dict):
        raise err_param(f"(#100) The parameter {kind} is required.")
    need = {"text": ("body",), "location": ("latitude", "longitude"),
            "interactive": ("type", "action"), "template": ("name", "language"),
            "reaction": ("message_id", "emoji")}.get(kind, ())
    for field in need:
        if obj.get(field) is None:
            raise err_param(f"(#100) The parameter {kind}['{field}'] is required.")
    if kind == "text" and not (isinstance(obj["body"], str) and obj["body"]):
        raise err_param("(#100) The parameter text['body'] is required.")
    if kind in MEDIA_MESSAGE_TYPES and not (obj.get("id") or obj.get("link")):
        raise err_send_param(f"Please specify either id or link for {kind}.")
    if kind == "template" and not (isinstance(obj["language"], dict) and
                                   obj["language"].get("code")):
        raise err_param("(#100) The parameter template['language']['code'] is required.")
    ctx = p.get("context")
    if ctx is not None and not (isinstance(ctx, dict) and ctx.get("message_id")):
        raise err_param("(#100) The parameter context['message_id'] is required.")
    return kind, obj


MESSAGE_ERRORS = {
    "131026": lambda rule: wa_error(131026, "Message undeliverable",
                                    "Message failed to send because the recipient's "
                                    "phone number is not a WhatsApp number, or they "
                                    "have not accepted the new Terms of Service."),
    "131051": lambda rule: wa_error(131051, "Unsupported message type",
                                    "Message type is not currently supported."),
    "131056": lambda rule: wa_error(131056, "(Business Account, Consumer Account) pair "
                                    "rate limit hit",
                                    "Message failed to send because there were too many "
                                    "messages sent from this phone number to the same "
                                    "phone number in a short period of time."),
    "131048": lambda rule: wa_error(131048, "Spam rate limit hit",
                                    "Message failed to send because there are "
                                    "restrictions on how many messages can be sent from "
                                    "this phone number. This may be because too many "
                                    "previous messages were blocked or flagged as spam."),
    "param": lambda rule: wa_error(rule.get("code") or 100, "Invalid parameter",
                                   "Parameter 'to' is not a valid phone number."),
}


# Meta's per-number and pair limits on sends, applied by the sandbox when
# set through /_sandbox/limits (off by default and after a reset).
# 130429 as in the sample response of Meta's "Error codes" page, subcode
# 2494055 included; 131056 as MESSAGE_ERRORS has it. Both HTTP 400, the
# status Meta's error table gives them (http_status picks 429).
LIMITS_OFF = {"per_number_mps": None, "pair_interval_ms": None, "send_delay_ms": 0,
              "http_status": 400}


def err_throughput(status):
    return GraphError(status, "(#130429) Rate limit hit", 130429, subcode=2494055,
                      error_data={"messaging_product": "whatsapp",
                                  "details": "Message failed to send because there were too "
                                             "many messages sent from this phone number in a "
                                             "short period of time"})


def err_pair(status):
    err = MESSAGE_ERRORS["131056"](None)
    err.status = status
    return err


ONBOARDING_ERRORS = {
    "133005": lambda rule: err_pin_mismatch(),
    "133006": lambda rule: err_not_verified(),
    "133016": lambda rule: err_register_limit(),
    "2388001": lambda rule: err_certificate(rule.get("variant") or "display_name"),
    "136024": lambda rule: err_request_code(),
    "136025": lambda rule: err_verify_code(),
}


# -- Catalog Batch API (items_batch, check_batch_request_status) -------------
# Meta's references: "Send Item Updates" (item_type, requests[].method and
# .data, data.id the retailer id, at most 5,000 requests), the items_batch
# answer {"handles": [...], "validation_status": [...]}, and
# check_batch_request_status ({"data": [{"handle", "status", "errors",
# "errors_total_count", "warnings", "warnings_total_count",
# "ids_of_invalid_requests"}]}, each error {"line", "id", "message"}).
CATALOG_BATCH_ENDPOINTS = ("items_batch", "check_batch_request_status")
INJECT_ENDPOINTS += CATALOG_BATCH_ENDPOINTS
CATALOG_ITEM_TYPES = ("DESTINATION", "FLIGHT", "HOME_LISTING", "HOTEL", "HOTEL_ROOM",
                      "PRODUCT_ITEM", "VEHICLE", "VEHICLE_OFFER")
CATALOG_BATCH_MAX = 5000
# The catalog's own rate limits: batch uploads (items_batch) and calls (the rest).
CATALOG_RATE_CODES = {"items_batch": 80014, "check_batch_request_status": 80009}
CATALOG_RATE_TEXTS = {
    80014: "(#80014) There have been too many calls for the batch uploads to this catalog "
           "account. Wait a bit and try again.",
    80009: "(#80009) There have been too many calls to this Catalog account. Wait a bit "
           "and try again."}
PRODUCT_REQUIRED = ("title", "description", "availability", "condition", "price", "link",
                    "image_link")
PRODUCT_AVAILABILITY = ("in stock", "out of stock", "preorder", "available for order",
                        "discontinued")
PRODUCT_CONDITION = ("new", "refurbished", "used")


def catalog_item_errors(method, data, products, allow_upsert):
    """What Meta's ingestion says about one valid-shaped request (empty: saved)."""
    rid = data["id"]
    if method == "DELETE":
        return [] if rid in products else [f"Item with id {rid} does not exist."]
    if method == "UPDATE" and rid not in products and not allow_upsert:
        return [f"Item with id {rid} does not exist and allow_upsert is false."]
    out = []
    if method == "CREATE" or rid not in products:
        for field in PRODUCT_REQUIRED:
            if data.get(field) in (None, ""):
                out.append(f"You cannot create a EntProductItem without required field "
                           f"{field.replace('_', ' ').title().replace(' ', '')}")
        if not any(data.get(k) for k in ("brand", "gtin", "mpn")):
            out.append("Either gtin, mpn, or brand are required")
    if data.get("availability") not in (None, "", *PRODUCT_AVAILABILITY):
        out.append(f"Invalid value for availability: {data['availability']}")
    if data.get("condition") not in (None, "", *PRODUCT_CONDITION):
        out.append(f"Invalid value for condition: {data['condition']}")
    if data.get("price") not in (None, "") and not (isinstance(data["price"], str) and
                                re.fullmatch(r"\d+(\.\d{1,2})? [A-Z]{3}", data["price"])):
        out.append(f"Invalid value for price: {data['price']!r} (expected e.g. \"9.99 USD\")")
    return out


def catalog_items_batch(state, rec, node, req):
    """POST /{catalog_id}/items_batch: checks the call as Graph does (a bad
    parameter fails the whole call with code 100), applies the valid requests to
    the catalog's products and keeps their errors for the batch's status."""
    cat = state["catalogs"].get(node)
    if cat is None or node not in rec.get("catalogs", []) or req.method != "POST":
        raise err_object(node, req.method)
    p = req.params
    item_type = p.get("item_type")
    if item_type is None:
        raise GraphError(400, "(#100) The parameter item_type is required", 100)
    if item_type not in CATALOG_ITEM_TYPES:
        raise GraphError(400, f"(#100) Param item_type must be one of {{"
                         f"{', '.join(CATALOG_ITEM_TYPES)}}} - got \"{item_type}\".", 100)
    reqs = p.get("requests")
    if reqs is None:
        raise GraphError(400, "(#100) The parameter requests is required", 100)
    if isinstance(reqs, str):  # the form encoding of Meta's curl samples
        try:
            reqs = json.loads(reqs)
        except ValueError:
            raise GraphError(400, "(#100) Param requests must be a valid JSON array", 100) \
                from None
    if not isinstance(reqs, list) or not reqs:
        raise GraphError(400, "(#100) Param requests must be a non-empty array", 100)
    if len(reqs) > CATALOG_BATCH_MAX:
        raise GraphError(400, f"(#100) Param requests must contain at most "
                         f"{CATALOG_BATCH_MAX} elements", 100)
    for i, r in enumerate(reqs):
        if not (isinstance(r, dict) and r.get("method") in ("CREATE", "UPDATE", "DELETE")
                and isinstance(r.get("data"), dict)
                and isinstance(r["data"].get("id"), str) and r["data"]["id"]):
            raise GraphError(400, f"(#100) Param requests[{i}] must have a method (CREATE, "
                             "UPDATE or DELETE) and data with an id", 100)
    allow_upsert = str(p.get("allow_upsert", "true")).lower() != "false"
    products = cat.setdefault("products", {})
    errors, invalid = [], []
    for line, r in enumerate(reqs):
        data, rid = r["data"], r["data"]["id"]
        problems = (catalog_item_errors(r["method"], data, products, allow_upsert)
                    if item_type == "PRODUCT_ITEM" else [])
        if problems:
            invalid.append(rid)
            errors.extend({"line": line, "id": rid,
                           "message": f"Invalid value: Value passed at position {line} "
                                      f"(id={rid}) is invalid: \"{m}\""} for m in problems)
        elif r["method"] == "DELETE":
            products.pop(rid, None)
        else:
            products[rid] = {**products.get(rid, {}), **data, "item_type": item_type}
    cat["product_count"] = len(products)
    handle = "Ac" + secrets.token_urlsafe(81)[:108]
    state.setdefault("batches", {})[handle] = {
        "catalog_id": node, "checks": 0, "errors": errors, "invalid": invalid,
        "requests": len(reqs), "created": now()}
    return {"handles": [handle], "validation_status": []}


def catalog_batch_status(state, rec, node, req):
    """GET /{catalog_id}/check_batch_request_status?handle=H: "started" at the
    first look, "finished" from the second (Meta's batches take a while)."""
    cat = state["catalogs"].get(node)
    if cat is None or node not in rec.get("catalogs", []) or req.method != "GET":
        raise err_object(node, req.method)
    handle = req.params.get("handle")
    if not handle:
        raise GraphError(400, "(#100) The parameter handle is required", 100)
    batch = state.get("batches", {}).get(handle)
    if batch is None or batch["catalog_id"] != node:
        return {"data": []}
    batch["checks"] += 1
    finished = batch["checks"] > 1
    load_ids = str(req.params.get("load_ids_of_invalid_requests", "false")).lower() == "true"
    status = {"handle": handle, "status": "finished" if finished else "started",
              "errors_total_count": len(batch["errors"]) if finished else 0,
              "errors": batch["errors"][:100] if finished else [],
              "warnings_total_count": 0, "warnings": [],
              "ids_of_invalid_requests": batch["invalid"] if finished and load_ids else []}
    return {"data": [status]}


def select_fields(obj, fields, default, node_type):
    """Graph's ?fields= projection; unknown names fail as Graph does."""
    names = default
    if fields:
        names = [re.sub(r"\{.*$", "", f).strip() for f in re.split(r",(?![^{]*\})", fields)]
        for name in names:
            if name and name not in obj:
                raise GraphError(400, f"(#100) Tried accessing nonexisting field ({name}) "
                                 f"on node type ({node_type})", 100)
        names = [n for n in names if n] + ["id"]
    return {n: obj[n] for n in names if obj.get(n) is not None}


def fixture(app_id):
    """The initial world: one business, four WABAs, seven numbers, one catalog."""
    def number(pid, waba, display, name, quality, status, **over):
        n = {"id": pid, "waba_id": waba, "display_phone_number": display,
             "verified_name": name, "quality_rating": quality, "status": status,
             "code_verification_status": "VERIFIED", "name_status": "APPROVED",
             "throughput": {"level": "STANDARD"}, "messaging_limit_tier": "TIER_1K",
             "account_mode": "LIVE", "is_official_business_account": False,
             "is_on_biz_app": False, "registered": False, "pin": None,
             "in_use_elsewhere": False, "verification": None, "register_calls": [],
             "smb_sync": {}}
        n.update(over)
        return n

    def waba(wid, name):
        return {"id": wid, "name": name, "business_id": BUSINESS_ID, "currency": "USD",
                "timezone_id": "1", "account_review_status": "APPROVED",
                "message_template_namespace": hashlib.md5(wid.encode()).hexdigest()[:24],
                "subscribed_apps": {}}

    return {
        "config": {"scenario": "one_waba", "code_grant": "short", "dialog_auto": None,
                   "require_appsecret_proof": True, "pins": {}, "allowed_redirect_uris": [],
                   "sdk_code_ttl": SDK_CODE_TTL, "history_sharing": True,
                   "smb_sync_webhooks": True, "register_limit": None},
        "wabas": {WABA_1: waba(WABA_1, "Demo Merchant"),
                  WABA_2: waba(WABA_2, "Demo Merchant EU"),
                  WABA_3: waba(WABA_3, "Demo Merchant Onboarding"),
                  WABA_4: waba(WABA_4, "Demo Merchant Shop")},
        "numbers": {
            PHONE_1: number(PHONE_1, WABA_1, "+1 555 0100", "Demo Merchant", "GREEN", "CONNECTED"),
            PHONE_2: number(PHONE_2, WABA_1, "+1 555 0101", "Demo Merchant Support", "YELLOW",
                            "CONNECTED"),
            PHONE_3: number(PHONE_3, WABA_2, "+1 555 0102", "Demo Merchant EU", "GREEN",
                            "CONNECTED"),
            # Added in WhatsApp Manager but never verified: request_code first.
            PHONE_UNVERIFIED: number(PHONE_UNVERIFIED, WABA_3, "+1 555 0103",
                                     "Demo Merchant Deliveries", "UNKNOWN", "PENDING",
                                     code_verification_status="NOT_VERIFIED"),
            # Verified, but its display name is still in review: register fails.
            PHONE_NAME_PENDING: number(PHONE_NAME_PENDING, WABA_3, "+1 555 0104",
                                       "Demo Merchant Bookings", "UNKNOWN", "PENDING",
                                       name_status="PENDING_REVIEW"),
            # Still registered to another WhatsApp account (another WABA, or the app).
            PHONE_ELSEWHERE: number(PHONE_ELSEWHERE, WABA_3, "+1 555 0105",
                                    "Demo Merchant Old Line", "UNKNOWN", "PENDING",
                                    in_use_elsewhere=True),
            # On the WhatsApp Business app and, after coexistence onboarding, on
            # Cloud API too: no register call, contacts and history to sync once.
            PHONE_COEX: number(PHONE_COEX, WABA_4, "+1 555 0106", "Demo Merchant Shop",
                               "GREEN", "CONNECTED", is_on_biz_app=True, registered=True,
                               messaging_limit_tier="TIER_250")},
        "catalogs": {CATALOG_ID: {"id": CATALOG_ID, "name": "Demo Merchant Products",
                                  "product_count": 12, "vertical": "commerce"}},
        "codes": {}, "tokens": {}, "messages": [], "webhooks": [], "app_id": app_id,
        "fixture_version": FIXTURE_VERSION,
    }


class Sandbox:
    """Everything the sandbox knows.  Public methods take self.lock."""

    def __init__(self, app_id, app_secret, app_name, webhook_url=None, state_file=None):
        self.app_id, self.app_name, self.webhook_url = app_id, app_name, webhook_url
        self._secret = app_secret.encode()
        self.state_file = state_file
        self.lock = threading.RLock()
        self.requests = deque(maxlen=2000)
        # Every POST /{phone}/messages, unbounded and small (issue 13's
        # outbox tests count sends per message over 10,000 of them):
        # arrival time, number, recipient, text body, and the answer.
        self.sends = []
        self.injects = {}
        # Set (and replaced) by clear_injects: wakes every "timeout" sleep,
        # so a test's teardown never waits out a long injected delay.
        self._wake = threading.Event()
        # Meta's limits on sends (set_limits): the accepted sends of each
        # number in the last second, each pair's last accepted send, and
        # how many sends each limit refused.
        self.limits = dict(LIMITS_OFF)
        self._window, self._pair_at = {}, {}
        self.rejected = {"130429": 0, "131056": 0}
        self._delay_wake = threading.Event()
        self.state = self._load() or self._fresh()

    # -- persistence --------------------------------------------------------

    def _fresh(self):
        st = fixture(self.app_id)
        st["templates"], st["templates_deleted"] = [], []  # message_templates, per WABA
        self._add_token(st, new_token(), "catalog", [], ["catalog_management",
                                                         "business_management"],
                        0, catalogs=[CATALOG_ID])
        return st

    def _load(self):
        if not self.state_file or not os.path.exists(self.state_file):
            return None
        try:
            with open(self.state_file, encoding="utf-8") as f:
                st = json.load(f)
        except (OSError, ValueError):
            return None
        if st.get("app_id") != self.app_id or st.get("fixture_version") != FIXTURE_VERSION:
            return None
        return st

    def _save(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.state_file)

    # -- helpers ------------------------------------------------------------

    @property
    def app_token(self):
        return f"{self.app_id}|{self._secret.decode()}"

    def proof_for(self, token):
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()

    def _add_token(self, st, token, kind, wabas, scopes, lifetime, **extra):
        t = now()
        rec = {"token": token, "kind": kind,
               "type": "USER" if kind.startswith("user") else "SYSTEM_USER",
               "user_id": USER_ID, "wabas": list(wabas), "scopes": list(scopes),
               "issued_at": t, "expires_at": t + lifetime if lifetime else 0,
               "data_access_expires_at": t + DATA_ACCESS if kind.startswith("user") else 0,
               "revoked_subcode": None}
        rec.update(extra)
        st["tokens"][token] = rec
        return rec

    def _problem(self, rec):
        """(subcode, message) when a token is unusable, else None."""
        if rec.get("revoked_subcode"):
            sc = rec["revoked_subcode"]
            msg = REVOKE_MESSAGES.get(sc, "Error validating access token: The session has "
                                          "been invalidated.")
            return sc, msg.format(app=self.app_id)
        if rec["expires_at"] and now() >= rec["expires_at"]:
            return 463, expired_message(rec["expires_at"], now())
        return None

    def _token_state(self, rec):
        if rec.get("revoked_subcode"):
            return "revoked"
        return "expired" if self._problem(rec) else "valid"

    # -- OAuth dialog -------------------------------------------------------

    def dialog_context(self, p):
        """Validate the dialog's query like Meta does, before showing anything."""
        with self.lock:
            if p.get("client_id") != self.app_id:
                raise DialogError("Invalid App ID",
                                  "The provided app ID does not look like a valid app ID.")
            uri = p.get("redirect_uri") or ""
            parts = urllib.parse.urlsplit(uri)
            allowed = self.state["config"]["allowed_redirect_uris"]
            if (parts.scheme not in ("http", "https") or not parts.netloc
                    or (allowed and uri not in allowed)):
                raise DialogError("URL Blocked",
                                  "This redirect failed because the redirect URI is not "
                                  "whitelisted in the app's Client OAuth Settings.")
            if p.get("response_type", "code") != "code":
                raise DialogError("Unsupported response_type",
                                  "The sandbox implements response_type=code only.")
            if p.get("config_id"):
                scopes = list(ES_SCOPES)
            else:
                scopes = [s for s in re.split(r"[,\s]+", p.get("scope", "")) if s]
            if "public_profile" not in scopes:
                scopes.append("public_profile")
            scenario = p.get("scenario") or self.state["config"]["scenario"]
            if scenario not in SCENARIOS:
                scenario = "one_waba"
            return {"redirect_uri": uri, "state": p.get("state"), "scopes": scopes,
                    "scenario": scenario, "auto": self.state["config"]["dialog_auto"]}

    def dialog_assets(self):
        with self.lock:
            return {w: {"name": self.state["wabas"][w]["name"],
                        "numbers": [(n["display_phone_number"], n["verified_name"])
                                    for n in self.state["numbers"].values()
                                    if n["waba_id"] == w]}
                    for w in self.state["wabas"]}

    def issue_code(self, ctx, sdk=False):
        """A code for the redirect flow (bound to its redirect_uri, 10 minutes)
        or for the JS SDK's popup (bound to no redirect_uri, config sdk_code_ttl
        seconds: Meta gives Embedded Signup's code 30)."""
        with self.lock:
            codes = self.state["codes"]
            for old in [c for c, r in codes.items() if r["expires_at"] < now() - 3600]:
                del codes[old]
            code = "AQ" + "".join(secrets.choice(ALNUM + "-_") for _ in range(120))
            ttl = self.state["config"]["sdk_code_ttl"] if sdk else CODE_TTL
            codes[code] = {
                "redirect_uri": None if sdk else ctx["redirect_uri"], "scopes": ctx["scopes"],
                "wabas": list(SCENARIOS[ctx["scenario"]][1]), "scenario": ctx["scenario"],
                "flow": "sdk" if sdk else "redirect",
                "created_at": now(), "expires_at": now() + ttl, "used": False}
            self._save()
            return code

    # -- Embedded Signup in a popup (the JS SDK stand-in's dialog) ---------------

    def es_context(self, p):
        """Validate what FB.login put in the popup's URL, as the dialog would."""
        with self.lock:
            if p.get("client_id") != self.app_id:
                raise DialogError("Invalid App ID",
                                  "The provided app ID does not look like a valid app ID.")
            origin = p.get("origin") or ""
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
                raise DialogError("Invalid origin", "FB.login must be called from an http(s) "
                                  "page; the SDK sends its origin.")
            if p.get("response_type") != "code" or \
                    p.get("override_default_response_type") != "true":
                raise DialogError("Unsupported response_type",
                                  "Embedded Signup needs response_type: 'code' and "
                                  "override_default_response_type: true.")
            try:
                extras = json.loads(p.get("extras") or "{}")
            except ValueError:
                extras = None
            if not isinstance(extras, dict):
                raise DialogError("Invalid extras", "extras must be a JSON object.")
            if p.get("config_id"):
                scopes = list(ES_SCOPES)
            else:
                scopes = [x for x in re.split(r"[,\s]+", p.get("scope", "")) if x]
            if "public_profile" not in scopes:
                scopes.append("public_profile")
            coex = extras.get("featureType") == "whatsapp_business_app_onboarding"
            scenario = p.get("scenario") or ("coexistence" if coex
                                             else self.state["config"]["scenario"])
            if scenario not in SCENARIOS:
                scenario = "one_waba"
            return {"origin": origin, "scopes": scopes, "scenario": scenario,
                    "extras": extras, "coexistence": coex, "redirect_uri": None}

    def es_numbers(self, scenario):
        """(id, label, WABA id, on the Business app) of the numbers a scenario shares."""
        with self.lock:
            wabas = SCENARIOS[scenario][1]
            return [(n["id"], f"{n['display_phone_number']} ({n['verified_name']}, "
                              f"{self.state['wabas'][n['waba_id']]['name']})",
                     n["waba_id"], bool(n.get("is_on_biz_app")))
                    for n in self.state["numbers"].values() if n["waba_id"] in wabas]

    def es_decide(self, ctx, p):
        """The messages the popup posts to its opener: the WA_EMBEDDED_SIGNUP
        session event (shaped as Meta's "Session logging message event
        listener") and the FB.login callback's response."""
        outcome = p.get("outcome")
        wabas = SCENARIOS[ctx["scenario"]][1]
        failed = {"authResponse": None, "status": "unknown"}
        if outcome == "cancel":
            step = p.get("current_step") or "PHONE_NUMBER_SETUP"
            if step not in ES_STEPS:
                raise DialogError("Unknown step", f"current_step must be one of "
                                  f"{', '.join(ES_STEPS)}.")
            return {"data": {"current_step": step}, "type": "WA_EMBEDDED_SIGNUP",
                    "event": "CANCEL"}, failed
        if outcome in ("report_error", "error"):
            data = {"error_message": p.get("error_message") or
                    "Your verified name violates WhatsApp guidelines. Please edit your "
                    "verified name and try again.",
                    "error_code": "524126", "session_id": secrets.token_hex(8)[:15],
                    "timestamp": str(now())}
            return {"data": data, "type": "WA_EMBEDDED_SIGNUP",
                    "event": "CANCEL" if outcome == "report_error" else "ERROR"}, failed
        data = {}
        if outcome == "finish":
            with self.lock:
                number = self.state["numbers"].get(p.get("phone_number_id") or "")
            if number is None or number["waba_id"] not in wabas:
                raise DialogError("Choose a number", "The number must be one of the WABAs "
                                  "this scenario shares.")
            if bool(number.get("is_on_biz_app")) != ctx["coexistence"]:
                raise DialogError("Wrong kind of number", (
                    "That number is on the WhatsApp Business app: start Embedded Signup "
                    "with extras.featureType 'whatsapp_business_app_onboarding'."
                    if number.get("is_on_biz_app") else
                    "This flow onboards a WhatsApp Business app number; choose one."))
            data = {"phone_number_id": number["id"], "waba_id": number["waba_id"]}
            event = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING" if ctx["coexistence"] \
                else "FINISH"
        elif outcome == "finish_only_waba":
            waba = p.get("waba_id") or wabas[0]
            if waba not in wabas:
                raise DialogError("Choose a WABA", "The WABA must be one this scenario "
                                  "shares.")
            data, event = {"waba_id": waba}, "FINISH_ONLY_WABA"
        else:
            raise DialogError("Unknown outcome", "outcome must be finish, finish_only_waba, "
                              "cancel, report_error or error.")
        data["business_id"] = BUSINESS_ID
        if len(wabas) > 1:
            data["waba_ids"] = list(wabas)  # "only included for multi-WABA flows"
        code = self.issue_code(ctx, sdk=True)
        return ({"data": data, "type": "WA_EMBEDDED_SIGNUP", "event": event},
                {"authResponse": {"code": code, "userID": USER_ID, "expiresIn": None,
                                  "graphDomain": "facebook"}, "status": "connected"})

    # -- oauth/access_token -------------------------------------------------

    def _check_client(self, p):
        if not p.get("client_id"):
            raise GraphError(400, "Missing client_id parameter.", 101)
        if str(p["client_id"]) != self.app_id:
            raise GraphError(400, "Error validating application. Invalid application ID.", 101)
        if not hmac.compare_digest(str(p.get("client_secret", "")).encode(), self._secret):
            raise GraphError(400, "Error validating client secret.", 1)

    def access_token(self, p):
        with self.lock:
            self._check_client(p)
            grant = p.get("grant_type")
            if grant == "fb_exchange_token":
                return self._exchange(p)
            if grant == "client_credentials":
                return {"access_token": self.app_token, "token_type": "bearer"}
            if not p.get("code"):
                raise GraphError(400, "(#100) The parameter code is required", 100)
            rec = self.state["codes"].get(p["code"])
            # The JS SDK's code is exchanged without a redirect_uri (Meta's
            # Embedded Signup "exchange the token code" call has none); an
            # empty one is the same.
            sdk = rec is not None and rec.get("redirect_uri") is None
            if "redirect_uri" not in p and not sdk:
                raise GraphError(400, "Missing redirect_uri parameter.", 191)
            if rec is None:
                raise GraphError(400, "Invalid verification code format.", 100, www="invalid_code")
            if rec["used"]:
                raise GraphError(400, "This authorization code has been used.", 100,
                                 subcode=36009, www="invalid_code")
            if now() >= rec["expires_at"]:
                raise GraphError(400, "This authorization code has expired.", 100,
                                 subcode=36007, www="invalid_code")
            # Meta spends the code on the first attempt, even one that fails.
            rec["used"] = True
            self._save()
            if (p.get("redirect_uri") or None) != rec["redirect_uri"]:
                raise GraphError(400, "Error validating verification code. Please make sure "
                                 "your redirect_uri is identical to the one you used in the "
                                 "OAuth dialog request", 100, subcode=36008, www="invalid_code")
            kind, lifetime = CODE_GRANTS[self.state["config"]["code_grant"]]
            tok = self._add_token(self.state, new_token(), kind, rec["wabas"], rec["scopes"],
                                  lifetime, origin="code")
            self._save()
            out = {"access_token": tok["token"], "token_type": "bearer"}
            if lifetime:
                out["expires_in"] = lifetime
            return out

    def _exchange(self, p):
        old = p.get("fb_exchange_token")
        if not old:
            raise GraphError(400, "(#100) The parameter fb_exchange_token is required", 100)
        rec = self.state["tokens"].get(old)
        if rec is None:
            raise GraphError(400, "Invalid OAuth access token - Cannot parse access token",
                             190, www="invalid_token")
        problem = self._problem(rec)
        if problem:
            raise GraphError(400, problem[1], 190, subcode=problem[0], www="invalid_token")
        tok = self._add_token(self.state, new_token(), "user_long", rec["wabas"], rec["scopes"],
                              LONG_LIVED, origin="fb_exchange_token")
        self._save()
        return {"access_token": tok["token"], "token_type": "bearer", "expires_in": LONG_LIVED}

    # -- debug_token --------------------------------------------------------

    def debug_token(self, req):
        with self.lock:
            if req.token != self.app_token:
                if req.token and "|" in req.token:
                    raise GraphError(400, "Invalid OAuth access token signature.", 190,
                                     www="invalid_token")
                raise GraphError(400, "(#100) You must provide an app access token, or a user "
                                 "access token that is an owner or developer of the app", 100)
            if req.proof:
                self._check_proof(req)
            token = req.params.get("input_token")
            if not token:
                raise GraphError(400, "(#100) The parameter input_token is required", 100)
            if token == self.app_token:
                return {"data": {"app_id": self.app_id, "type": "APP",
                                 "application": self.app_name, "is_valid": True}}
            rec = self.state["tokens"].get(token)
            if rec is None:
                return {"data": {"error": {"code": 190, "message": "Invalid OAuth access token "
                                           "- Cannot parse access token"},
                                 "is_valid": False, "scopes": []}}
            data = {"app_id": self.app_id, "type": rec["type"], "application": self.app_name,
                    "data_access_expires_at": rec["data_access_expires_at"],
                    "expires_at": rec["expires_at"], "is_valid": True}
            if rec["kind"] != "user_short":  # "not returned for short-lived tokens"
                data["issued_at"] = rec["issued_at"]
            data["scopes"] = list(rec["scopes"])
            data["granular_scopes"] = self._granular(rec)
            data["user_id"] = rec["user_id"]
            problem = self._problem(rec)
            if problem:
                data["is_valid"] = False
                data["error"] = {"code": 190, "message": problem[1], "subcode": problem[0]}
            return {"data": data}

    def _granular(self, rec):
        out = []
        for scope in rec["scopes"]:
            entry = {"scope": scope}
            if scope.startswith("whatsapp_business_") and rec["wabas"]:
                entry["target_ids"] = list(rec["wabas"])
            elif scope == "business_management" and rec["wabas"]:
                entry["target_ids"] = [BUSINESS_ID]
            elif scope == "catalog_management":
                entry["target_ids"] = list(rec.get("catalogs", []))
            out.append(entry)
        return out

    # -- Graph objects ------------------------------------------------------

    def _check_proof(self, req):
        if not req.proof:
            if self.state["config"]["require_appsecret_proof"]:
                raise GraphError(400, "API calls from the server require an appsecret_proof "
                                 "argument", 100, type_="GraphMethodException")
            return
        if not hmac.compare_digest(str(req.proof), self.proof_for(req.token)):
            raise GraphError(400, "Invalid appsecret_proof provided in the API argument", 100,
                             type_="GraphMethodException")

    def _authenticate(self, req):
        if not req.token:
            raise GraphError(400, "An access token is required to request this resource.", 104,
                             www="invalid_request")
        rec = self.state["tokens"].get(req.token)
        if rec is None:
            raise GraphError(400, "Invalid OAuth access token - Cannot parse access token",
                             190, www="invalid_token")
        self._check_proof(req)
        problem = self._problem(rec)
        if problem:
            raise GraphError(400, problem[1], 190, subcode=problem[0], www="invalid_token")
        return rec

    def _waba_for(self, rec, waba_id, method, scope="whatsapp_business_management"):
        waba = self.state["wabas"].get(waba_id)
        if waba is None or waba_id not in rec["wabas"]:
            raise err_object(waba_id, method)
        if scope not in rec["scopes"]:
            raise GraphError(403, "(#200) Permissions error", 200)
        return waba

    def _number_for(self, rec, pid, method, scope="whatsapp_business_management"):
        number = self.state["numbers"].get(pid)
        if number is None:
            raise err_object(pid, method)
        self._waba_for(rec, number["waba_id"], method, scope)
        return number

    def _number_view(self, n):
        view = {k: v for k, v in n.items() if k not in NUMBER_INTERNAL}
        view["platform_type"] = "CLOUD_API" if n["registered"] else "NOT_APPLICABLE"
        view["is_pin_enabled"] = n["pin"] is not None
        # Present even when unset, so ?fields=webhook_configuration is not "nonexisting".
        view["webhook_configuration"] = ({"application": self.webhook_url}
                                         if self.webhook_url else None)
        self._health_view(n, view)
        return view

    # -- the health monitor's fields (issue 12) -------------------------------

    HEALTH_LEVELS = ("AVAILABLE", "LIMITED", "BLOCKED")
    HEALTH_ENTITIES = ("PHONE_NUMBER", "WABA", "BUSINESS", "APP")

    def _health_view(self, n, view):
        """Meta's shapes ("Health Status", "Webhook overrides", "Messaging
        limits"): whatsapp_business_manager_messaging_limit replaces the
        deprecated messaging_limit_tier; health_status names every entity of
        the chain, its can_send_message and errors; webhook_configuration
        lists the number's override, the WABA's (the override_callback_uri
        of our app's subscription) and the app's callback, as far as set."""
        view["whatsapp_business_manager_messaging_limit"] = n.get(
            "messaging_limit", n.get("messaging_limit_tier"))
        for k in ("health", "webhook_override", "messaging_limit"):
            view.pop(k, None)
        health = n.get("health") or {}
        ids = {"PHONE_NUMBER": n["id"], "WABA": n["waba_id"], "BUSINESS": BUSINESS_ID,
               "APP": self.app_id}
        entities, worst = [], "AVAILABLE"
        for kind in self.HEALTH_ENTITIES:
            h = health.get(kind) or {}
            ent = {"entity_type": kind, "id": ids[kind],
                   "can_send_message": h.get("can_send_message", "AVAILABLE")}
            if h.get("errors"):
                ent["errors"] = copy.deepcopy(h["errors"])
            if self.HEALTH_LEVELS.index(ent["can_send_message"]) > \
                    self.HEALTH_LEVELS.index(worst):
                worst = ent["can_send_message"]
            entities.append(ent)
        view["health_status"] = {"can_send_message": worst, "entities": entities}
        conf = {}
        if n.get("webhook_override"):
            conf["phone_number"] = n["webhook_override"]
        sub = self.state["wabas"].get(n["waba_id"], {}).get("subscribed_apps", {}).get(
            self.app_id) or {}
        if sub.get("override_callback_uri"):
            conf["whatsapp_business_account"] = sub["override_callback_uri"]
        if self.state.get("app_webhook_url", self.webhook_url):
            conf["application"] = self.state.get("app_webhook_url", self.webhook_url)
        view["webhook_configuration"] = conf or None

    def set_health(self, body):
        """An entity of a number's health_status: can_send_message and Meta's
        errors [{error_code, error_description, possible_solution}]."""
        with self.lock:
            number = self.state["numbers"].get(str(body.get("phone_number_id")))
            if number is None:
                raise ControlError(400, "phone_number_id must be a fixture number")
            kind = body.get("entity_type", "PHONE_NUMBER")
            level = body.get("can_send_message", "AVAILABLE")
            errors = body.get("errors", [])
            if kind not in self.HEALTH_ENTITIES or level not in self.HEALTH_LEVELS:
                raise ControlError(400, "entity_type or can_send_message is not Meta's")
            if not isinstance(errors, list) or not all(
                    isinstance(e, dict) and isinstance(e.get("error_code"), int)
                    and isinstance(e.get("error_description"), str) for e in errors):
                raise ControlError(400, "errors: [{error_code, error_description, "
                                   "possible_solution?}]")
            number.setdefault("health", {})[kind] = {"can_send_message": level,
                                                     "errors": errors}
            self._save()
            return copy.deepcopy(number["health"])

    def set_app_webhook(self, body):
        """The app's callback URL in the App Dashboard (null: none)."""
        with self.lock:
            url = body.get("webhook_url")
            if url is not None and not (isinstance(url, str) and url.startswith("http")):
                raise ControlError(400, "webhook_url must be an http(s) URL or null")
            self.state["app_webhook_url"] = url
            self._save()
            return {"webhook_url": url}

    def set_expiry(self, body):
        """A token that expires expires_in seconds from now."""
        with self.lock:
            try:
                left = int(body.get("expires_in"))
            except (TypeError, ValueError):
                raise ControlError(400, "expires_in must be a number of seconds") from None
            recs = self._select_tokens(body)
            for rec in recs:
                rec["expires_at"] = now() + left
            self._save()
            return {"updated": len(recs)}

    PHONE_DEFAULT = ["verified_name", "code_verification_status", "display_phone_number",
                     "quality_rating", "platform_type", "throughput", "webhook_configuration",
                     "id"]

    def graph(self, req, endpoint, node):
        """Every token-authenticated Graph call, dispatched by endpoint name."""
        with self.lock:
            rec = self._authenticate(req)
            p, m = req.params, req.method
            if endpoint == "phone_numbers":
                if m != "GET":
                    raise err_object(node, m)
                self._waba_for(rec, node, m)
                rows = [select_fields(self._number_view(n), p.get("fields"),
                                      self.PHONE_DEFAULT, "WhatsAppBusinessPhoneNumber")
                        for n in self.state["numbers"].values() if n["waba_id"] == node]
                return self._page(rows, p, req.url)
            if endpoint == "phone":
                number = self._number_for(rec, node, m)
                return select_fields(self._number_view(number), p.get("fields"),
                                     self.PHONE_DEFAULT, "WhatsAppBusinessPhoneNumber")
            if endpoint == "register":
                return self._register(self._number_for(rec, node, m), p)
            if endpoint == "deregister":
                return self._deregister(self._number_for(rec, node, m))
            if endpoint == "set_pin":
                return self._set_pin(self._number_for(rec, node, m), p)
            if endpoint == "request_code":
                return self._request_code(self._number_for(rec, node, m), p)
            if endpoint == "verify_code":
                return self._verify_code(self._number_for(rec, node, m), p)
            if endpoint == "smb_app_data":
                return self._smb_app_data(self._number_for(rec, node, m), p, req)
            if endpoint == "subscribed_apps":
                return self._subscribed_apps(self._waba_for(rec, node, m), p, m)
            if endpoint == "messages":
                number = self._number_for(rec, node, m, "whatsapp_business_messaging")
                return self._send_message(number, p)
            if endpoint in ("message_templates", "create_template", "delete_template"):
                return self._templates(self._waba_for(rec, node, m), endpoint, p, req)
            if endpoint == "waba":
                waba = dict(self._waba_for(rec, node, m))
                waba["owner_business_info"] = {"id": BUSINESS_ID, "name": BUSINESS_NAME}
                return select_fields(waba, p.get("fields"),
                                     ["id", "name", "currency", "timezone_id",
                                      "message_template_namespace"],
                                     "WhatsAppBusinessAccount")
            if endpoint == "catalog":
                cat = self.state["catalogs"].get(node)
                if cat is None or node not in rec.get("catalogs", []):
                    raise err_object(node, m)
                return select_fields(cat, p.get("fields"), ["id", "name"], "ProductCatalog")
            if endpoint in CATALOG_BATCH_ENDPOINTS:
                fn = (catalog_items_batch if endpoint == "items_batch"
                      else catalog_batch_status)
                answer = fn(self.state, rec, node, req)
                self._save()
                return answer
            if endpoint == "me":
                return {"id": rec["user_id"], "name": USER_NAME}
            if endpoint in MEDIA_INJECT_ENDPOINTS:
                return self.media_graph(rec, req, endpoint, node)
            raise err_object(node, m)

    @staticmethod
    def _page(rows, p, url):
        """Graph cursor paging over a small list; "next" repeats the query, as Meta's does."""
        try:
            limit = max(1, min(int(p.get("limit", 25)), 100))
            start = int(base64.b64decode(p["after"]).decode()) + 1 if p.get("after") else 0
        except (ValueError, TypeError):
            raise GraphError(400, "(#100) Invalid cursor or limit", 100) from None
        chunk = rows[start:start + limit]
        out = {"data": chunk}
        if chunk:
            enc = lambda i: base64.b64encode(str(i).encode()).decode()  # noqa: E731
            out["paging"] = {"cursors": {"before": enc(start),
                                         "after": enc(start + len(chunk) - 1)}}
            if start + len(chunk) < len(rows):
                query = {k: v for k, v in p.items() if isinstance(v, str)}
                query.update(limit=str(limit), after=enc(start + len(chunk) - 1))
                out["paging"]["next"] = url + "?" + urllib.parse.urlencode(query)
        return out

    @staticmethod
    def _check_pin(pin):
        if not re.fullmatch(r"\d{6}", pin):
            err = err_param("(#100) Invalid parameter",
                            "Invalid value for parameter pin: it must be a 6-digit number.")
            err.subcode = 2494010  # plausible; Meta does not document one (see README)
            raise err

    def _count_register_call(self, number):
        """Register and deregister share one budget per number; the call that
        would exceed it fails with 133016 and is not counted."""
        limit = self.state["config"]["register_limit"]
        calls = [t for t in number.setdefault("register_calls", [])
                 if t > now() - REGISTER_WINDOW]
        if limit is not None and len(calls) >= limit:
            number["register_calls"] = calls
            self._save()
            raise err_register_limit()
        number["register_calls"] = calls + [now()]

    def _register(self, number, p):
        if p.get("messaging_product") != "whatsapp":
            raise err_param("(#100) The parameter messaging_product is required.")
        pin = str(p.get("pin", ""))
        self._check_pin(pin)
        self._count_register_call(number)
        self._save()
        # The order is ours (Meta documents none): what the number is, then
        # whether it may get a certificate, then the PIN.
        if number.get("is_on_biz_app") or number.get("in_use_elsewhere"):
            raise err_certificate("in_use")
        if number["code_verification_status"] != "VERIFIED":
            raise err_not_verified()
        if number["name_status"] != "APPROVED":
            raise err_certificate("display_name")
        expected = self.state["config"]["pins"].get(number["id"]) or number["pin"]
        if expected and expected != pin:
            raise err_pin_mismatch()
        number.update(registered=True, pin=pin, status="CONNECTED")
        self._save()
        return {"success": True}

    def _deregister(self, number):
        self._count_register_call(number)
        number.update(registered=False, status="DISCONNECTED")
        self._save()
        return {"success": True}

    def _set_pin(self, number, p):
        """POST /{phone} with pin: sets (or changes) two-step verification."""
        if "pin" not in p:
            raise err_param("(#100) The parameter pin is required")
        pin = str(p["pin"])
        self._check_pin(pin)
        number["pin"] = pin
        # A PIN set through the API replaces one the test put in config.
        self.state["config"]["pins"].pop(number["id"], None)
        self._save()
        return {"success": True}

    def _request_code(self, number, p):
        method = str(p.get("code_method", ""))
        if method not in ("SMS", "VOICE"):
            raise err_param(f"(#100) Param code_method must be one of {{SMS, VOICE}} - got "
                            f"\"{method}\".")
        language = str(p.get("language", ""))
        if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", language):
            raise err_param("(#100) The parameter language is required" if not language
                            else f"(#100) Param language must be a locale - got "
                                 f"\"{language}\".")
        code = "".join(secrets.choice(string.digits) for _ in range(6))
        number["verification"] = {"code": code, "code_method": method, "language": language,
                                  "sent_at": now(), "expires_at": now() + VERIFY_CODE_TTL}
        self._save()
        return {"success": True}

    def _verify_code(self, number, p):
        code = str(p.get("code", ""))
        if not code:
            raise err_param("(#100) The parameter code is required")
        sent = number.get("verification")
        if (not sent or now() >= sent["expires_at"]
                or not hmac.compare_digest(code.encode(), sent["code"].encode())):
            raise err_verify_code()
        number["verification"] = dict(sent, verified_at=now())
        number["code_verification_status"] = "VERIFIED"
        self._save()
        return {"success": True}

    def _smb_app_data(self, number, p, req):
        """Coexistence's one-time syncs; the webhooks follow from build_sync_webhooks."""
        if p.get("messaging_product") != "whatsapp":
            raise err_param("(#100) The parameter messaging_product is required.")
        sync = str(p.get("sync_type", ""))
        if sync not in SYNC_TYPES:
            raise err_param(f"(#100) Param sync_type must be one of {{smb_app_state_sync, "
                            f"history}} - got \"{sync}\".")
        if not number.get("is_on_biz_app"):
            raise err_param("(#100) Invalid parameter", "This phone number was not onboarded "
                            "from the WhatsApp Business app.")
        if sync in number.setdefault("smb_sync", {}):
            raise err_param("(#100) Invalid parameter", f"The {sync} synchronization has "
                            "already been requested for this phone number. It can only be "
                            "performed once.")
        rid = secrets.token_hex(16)
        number["smb_sync"][sync] = {"request_id": rid, "at": now()}
        self._save()
        req.after = ("smb_sync", number["id"], sync)
        return {"messaging_product": "whatsapp", "request_id": rid}

    def _subscribed_apps(self, waba, p, method):
        subs = waba["subscribed_apps"]
        if method == "POST":
            subs[self.app_id] = {"override_callback_uri": p.get("override_callback_uri")}
            self._save()
            return {"success": True}
        if method == "DELETE":
            subs.pop(self.app_id, None)
            self._save()
            return {"success": True}
        rows = []
        for app, sub in subs.items():
            row = {"whatsapp_business_api_data": {
                "id": app, "link": f"https://www.facebook.com/apps/{app}/",
                "name": self.app_name if app == self.app_id else f"App {app}"}}
            if sub.get("override_callback_uri"):
                row["override_callback_uri"] = sub["override_callback_uri"]
            rows.append(row)
        return {"data": rows}

    def _send_message(self, number, p):
        kind, _ = check_message_object(p)
        to = str(p.get("to"))
        text = p.get("text")
        if not number["registered"]:
            raise GraphError(400, "(#133010) Account not registered", 133010,
                             error_data={"messaging_product": "whatsapp",
                                         "details": "Account not registered"})
        wa_id = digits_of(to)
        self._within_limits(number["id"], to if BSUID_RE.fullmatch(to) else wa_id)
        mid = wamid(wa_id)
        self.state["messages"].append({
            "id": mid, "phone_number_id": number["id"], "waba_id": number["waba_id"],
            "to": to, "wa_id": wa_id, "type": kind, "recipient_type":
            p.get("recipient_type", "individual"),
            "body": text.get("body") if isinstance(text, dict) else None, "timestamp": now(),
            "message": copy.deepcopy(p)})
        self._save()
        return self._sent_answer(to, wa_id, mid)

    def _within_limits(self, pid, recipient):
        """Meta's limits on this send, under the lock (the answers of
        concurrent sends are decided one at a time, in arrival order):
        more than per_number_mps accepted sends of the number in the last
        second → 130429; the same recipient again within pair_interval_ms
        of the pair's last accepted send → 131056. A refused send counts
        for neither."""
        t = time.monotonic()
        win = self._window.setdefault(pid, deque())
        while win and win[0] <= t - 1.0:
            win.popleft()
        lim = self.limits
        if lim["per_number_mps"] and len(win) >= lim["per_number_mps"]:
            self.rejected["130429"] += 1
            raise err_throughput(lim["http_status"])
        last = self._pair_at.get((pid, recipient))
        if (lim["pair_interval_ms"] and last is not None and
                (t - last) * 1000 < lim["pair_interval_ms"]):
            self.rejected["131056"] += 1
            raise err_pair(lim["http_status"])
        win.append(t)
        self._pair_at[(pid, recipient)] = t

    def set_limits(self, body):
        """Any subset of LIMITS_OFF's keys; null turns a limit off."""
        def count(lo, hi, nullable=False):
            return lambda v: (v is None and nullable) or (
                isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi)
        checks = {"per_number_mps": (count(1, 100000, True), "null or 1..100000"),
                  "pair_interval_ms": (count(1, 3600000, True), "null or 1..3600000"),
                  "send_delay_ms": (count(0, 10000), "0..10000"),
                  "http_status": (lambda v: v in (400, 429) and not isinstance(v, bool),
                                  "400 or 429")}
        for key, value in body.items():
            if key not in checks:
                raise ControlError(400, f"limits are {', '.join(checks)}, not {key!r}")
            if not checks[key][0](value):
                raise ControlError(400, f"{key} must be {checks[key][1]}")
        with self.lock:
            self.limits.update(body)
            return self.get_limits()

    def get_limits(self):
        with self.lock:
            return dict(self.limits, rejected=dict(self.rejected))

    def send_delay(self):
        """send_delay_ms before a send is answered: Meta's time to answer.
        Never under the lock, so concurrent sends wait side by side; a
        reset ends the waits in progress."""
        with self.lock:
            delay, wake = self.limits["send_delay_ms"], self._delay_wake
        if delay:
            wake.wait(delay / 1000.0)

    @staticmethod
    def _sent_answer(to, wa_id, mid):
        """Meta's answer to a send: a business-scoped user id (CC.xxx) has no
        wa_id; a phone number, however written, has its digits."""
        contact = {"input": to}
        if not BSUID_RE.fullmatch(to):
            contact["wa_id"] = wa_id
        return {"messaging_product": "whatsapp", "contacts": [contact],
                "messages": [{"id": mid}]}

    # -- media and resumable uploads ----------------------------------------
    # Cloud API POST /{phone}/media (multipart: messaging_product, type, file),
    # GET /{media_id}; Graph's Resumable Upload API: POST /{app}/uploads, then
    # POST /upload:... (Authorization: OAuth, file_offset header, the bytes),
    # GET /upload:... for file_offset. Bytes are kept in memory only.

    def media_graph(self, rec, req, endpoint, node):
        st = self.state
        st.setdefault("media", {})
        st.setdefault("uploads", {})
        if not hasattr(self, "_upload_bytes"):
            self._upload_bytes = {}
        if endpoint == "media":
            number = self._number_for(rec, node, req.method, "whatsapp_business_messaging")
            return self._media_upload(number, req)
        if endpoint == "media_object":
            media = st["media"].get(node)
            if media is None or req.method != "GET":
                raise err_object(node, req.method)
            self._number_for(rec, media["phone_number_id"], req.method,
                             "whatsapp_business_messaging")
            return {"messaging_product": "whatsapp", "url":
                    f"{req.url}?mid={node}&ext={now() + 300}", "mime_type": media["mime_type"],
                    "sha256": media["sha256"], "file_size": media["file_size"], "id": node}
        if endpoint == "uploads":
            return self._upload_session(rec, req, node)
        return self._upload_data(rec, req, node)

    def _media_upload(self, number, req):
        p, files = req.params, req.files or {}
        if req.method != "POST":
            raise err_object(number["id"], req.method)
        if p.get("messaging_product") != "whatsapp":
            raise err_param("(#100) The parameter messaging_product is required.")
        if not p.get("type"):
            raise err_param("(#100) The parameter type is required.")
        f = files.get("file")
        if f is None:
            raise err_param("(#100) The parameter file is required.")
        mime = p["type"].split(";")[0].strip().lower()
        if mime not in MEDIA_TYPES:
            raise wa_error(131053, "Media upload error",
                           f"Unsupported file type: {p['type']}")
        if len(f["data"]) > MEDIA_TYPES[mime]:
            raise wa_error(131053, "Media upload error",
                           f"File size {len(f['data'])} exceeds the limit for {mime}")
        if not f["data"]:
            raise wa_error(131053, "Media upload error", "The file is empty")
        mid = str(10**15 + secrets.randbelow(9 * 10**15))
        self.state["media"][mid] = {
            "phone_number_id": number["id"], "mime_type": mime,
            "sha256": hashlib.sha256(f["data"]).hexdigest(), "file_size": len(f["data"]),
            "file_name": f.get("filename"), "part_type": f.get("type"), "uploaded_at": now()}
        self._save()
        return {"id": mid}

    def _upload_session(self, rec, req, node):
        p = req.params
        if req.method != "POST" or node != self.app_id:
            raise err_object(node, req.method)
        try:
            length = int(p.get("file_length", ""))
        except ValueError:
            length = -1
        if length <= 0:
            raise err_param("(#100) Param file_length must be a positive integer")
        if p.get("file_type") not in UPLOAD_TYPES:
            raise err_param("(#100) Param file_type must be one of {"
                            + ", ".join(UPLOAD_TYPES) + "}")
        inner = (f"1:attachment:{secrets.token_hex(16)}?file_name={p.get('file_name', '')}"
                 f"&file_length={length}&file_type={p['file_type']}")
        sid = ("upload:" + base64.b64encode(inner.encode()).decode() + "?sig="
               + base64.urlsafe_b64encode(secrets.token_bytes(12)).decode().rstrip("="))
        self.state["uploads"][sid] = {"file_name": p.get("file_name"), "file_length": length,
                                      "file_type": p["file_type"], "user_id": rec["user_id"],
                                      "file_offset": 0, "h": None}
        self._upload_bytes[sid] = b""
        self._save()
        return {"id": sid}

    def _upload_data(self, rec, req, node):
        sid = node + ("?sig=" + req.query["sig"] if "sig" in req.query else "")
        sess = self.state["uploads"].get(sid)
        if sess is None:
            raise err_object(node, req.method)
        if not (req.auth_scheme or "").lower() == "oauth":
            raise GraphError(400, "(#100) The access token must be sent in an "
                             "\"Authorization: OAuth\" header", 100)
        if req.method == "GET":
            return {"id": sid, "file_offset": sess["file_offset"]}
        if req.method != "POST":
            raise err_object(node, req.method)
        try:
            offset = int(req.headers.get("file_offset", ""))
        except ValueError:
            raise err_param("(#100) The file_offset header is required") from None
        if offset != sess["file_offset"]:
            raise err_param(f"(#100) file_offset {offset} does not match the session's "
                            f"offset {sess['file_offset']}")
        data = req.raw or b""
        if getattr(req, "partial", False):
            data = data[:max(1, len(data) // 2)]
        have = self._upload_bytes.get(sid, b"") + data
        if len(have) > sess["file_length"]:
            raise err_param("(#100) More bytes than file_length")
        self._upload_bytes[sid] = have
        sess["file_offset"] = len(have)
        sess.setdefault("posts", []).append({"file_offset": offset, "bytes": len(data),
                                             "content_type": req.headers.get("Content-Type")})
        if len(have) == sess["file_length"]:
            sess["sha256"] = hashlib.sha256(have).hexdigest()
            sess["h"] = ("4::" + base64.b64encode(sess["file_type"].encode()).decode() + ":"
                         + base64.urlsafe_b64encode(secrets.token_bytes(18)).decode()
                         + f":e:{now() + 30 * 86400}:{self.app_id}:{rec['user_id']}:"
                         + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()
                         + "\n4::" + base64.b64encode(b"x").decode())
        self._save()
        if sess["h"] is None:
            return {"id": sid, "file_offset": sess["file_offset"]}
        return {"h": sess["h"]}

    @staticmethod
    def media_multipart(ctype, raw):
        """multipart/form-data into (fields, files) with the email parser."""
        import email.parser
        import email.policy
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        fields, files = {}, {}
        if not msg.is_multipart():
            raise GraphError(400, "(#100) The request body is not multipart/form-data", 100)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = {"filename": part.get_filename(),
                               "type": part.get_content_type() if part.get("Content-Type")
                               else None, "data": data}
            else:
                fields[name] = data.decode("utf-8", "replace")
        return fields, files
    # -- message templates (issue 11) ------------------------------------------

    def _template_list(self):
        # setdefault: a --state-file from before templates has none yet.
        return self.state.setdefault("templates", [])

    @staticmethod
    def _language_name(code):
        return LANGUAGE_NAMES.get(code, code)

    def _templates(self, waba, endpoint, p, req):
        """GET / POST / DELETE /{waba_id}/message_templates, as the Message
        Templates reference: a page of the WABA's templates (status and
        name filters, cursors), a new one PENDING review, or a delete by
        name (every language) or by name and hsm_id (that one)."""
        rows = [t for t in self._template_list() if t["waba_id"] == waba["id"]]
        if endpoint == "message_templates":
            status = p.get("status")
            if status is not None:
                wanted = [x.strip() for x in str(status).split(",")]
                for x in wanted:
                    if x not in TEMPLATE_STATUSES:
                        raise err_param(f"(#100) Param status[0] must be one of "
                                        f"{{{', '.join(TEMPLATE_STATUSES)}}} - got \"{x}\".")
                rows = [t for t in rows if t["status"] in wanted]
            if p.get("name"):
                rows = [t for t in rows if str(p["name"]) in t["name"]]
            view = [select_fields({k: t.get(k) for k in TEMPLATE_FIELDS}, p.get("fields"),
                                  TEMPLATE_DEFAULT, "WhatsAppBusinessHSM") for t in rows]
            return self._page(view, p, req.url)
        if endpoint == "delete_template":
            return self._template_delete(waba, rows, p)
        return self._template_create(waba, rows, p)

    def _template_create(self, waba, rows, p):
        for key in ("name", "language", "category", "components"):
            if p.get(key) in (None, "", []):
                raise err_param(f"(#100) The parameter {key} is required.")
        name, lang, cat = p["name"], p["language"], p["category"]
        if not (isinstance(name, str) and re.fullmatch(r"[a-z0-9_]{1,512}", name)):
            err = err_param("(#100) Invalid parameter")
            err.subcode = 2388043  # plausible; see README
            err.user_title = "Invalid template name"
            err.user_msg = ("Template names can only contain lowercase alphanumeric "
                            "characters and underscores.")
            raise err
        if cat not in TEMPLATE_CATEGORIES:
            raise err_param(f"(#100) Param category must be one of "
                            f"{{{', '.join(TEMPLATE_CATEGORIES)}}} - got \"{cat}\".")
        comps = p["components"]
        if isinstance(comps, str):  # a form body carries it as JSON text
            try:
                comps = json.loads(comps)
            except ValueError:
                comps = None
        if not (isinstance(comps, list) and all(isinstance(c, dict) for c in comps)
                and any(c.get("type") == "BODY" for c in comps)):
            raise err_param("(#100) Invalid parameter", "components must be an array of "
                            "component objects that includes a BODY.")
        human = self._language_name(str(lang))
        if any(t["name"] == name and t["language"] == lang for t in rows):
            err = err_param("(#100) Invalid parameter")
            err.subcode = 2388024
            err.user_title = "Content in This Language Already Exists"
            err.user_msg = (f"There is already {human} content for this template. You can "
                            "create a new template and try again.")
            raise err
        if any(d["waba_id"] == waba["id"] and d["name"] == name and d["language"] == lang
               for d in self.state.setdefault("templates_deleted", [])):
            err = err_param("(#100) Invalid parameter")
            err.subcode = 2388023
            err.user_title = "Message Template Language Is Being Deleted"
            err.user_msg = (f"New {human} content can't be added while the existing {human} "
                            "content is being deleted. Try again in 4 weeks or create a new "
                            "message template.")
            raise err
        tid = "".join(secrets.choice(string.digits) for _ in range(15))
        tpl = {"id": tid, "waba_id": waba["id"], "name": name, "language": lang,
               "category": cat, "components": comps, "status": "PENDING",
               "parameter_format": p.get("parameter_format", "POSITIONAL"),
               "quality_score": {"score": "UNKNOWN", "date": now()},
               "rejected_reason": "NONE", "sub_category": None,
               "message_send_ttl_seconds": p.get("message_send_ttl_seconds"),
               "created_at": now()}
        self._template_list().append(tpl)
        self._save()
        return {"id": tid, "status": "PENDING", "category": cat}

    def _template_delete(self, waba, rows, p):
        name, hsm = p.get("name"), p.get("hsm_id")
        if not name:
            raise err_param("(#100) The parameter name is required.")
        gone = [t for t in rows if t["name"] == name and (not hsm or t["id"] == str(hsm))]
        if not gone:
            err = err_param("(#100) Invalid parameter")
            err.subcode = 2593002
            err.user_title = "Message template not found"
            err.user_msg = f"The message template {name} wasn't found for this account."
            raise err
        ids = {t["id"] for t in gone}
        self.state["templates"] = [t for t in self._template_list() if t["id"] not in ids]
        self.state.setdefault("templates_deleted", []).extend(
            {"waba_id": t["waba_id"], "name": t["name"], "language": t["language"],
             "id": t["id"], "at": now()} for t in gone)
        self._save()
        return {"success": True}

    def clear_templates(self):
        """Forgets every template, deleted ones too (a test's fresh start
        without new tokens)."""
        with self.lock:
            self.state["templates"], self.state["templates_deleted"] = [], []
            self._save()
            return {"ok": True}

    def template_status(self, body):
        """What Meta's review does outside the API: a template approved,
        rejected (with a reason), paused, disabled ...; its status changes
        and the message_template_status_update webhook goes to the app
        (unless "webhook": false), shaped as Meta's webhook reference."""
        event = body.get("event")
        if event not in TEMPLATE_EVENTS:
            raise ControlError(400, f"event must be one of {', '.join(TEMPLATE_EVENTS)}")
        reason = body.get("reason", "NONE")
        if event == "REJECTED" and reason not in TEMPLATE_REASONS:
            raise ControlError(400, f"reason must be one of {', '.join(TEMPLATE_REASONS)}")
        with self.lock:
            rows = self._template_list()
            tid = body.get("template_id")
            match = [t for t in rows if (tid and t["id"] == str(tid)) or (
                not tid and t["name"] == body.get("name")
                and t["language"] == body.get("language", t["language"]))]
            if len(match) != 1:
                raise ControlError(404, "name one template: template_id, or name "
                                        "(and language)")
            t = match[0]
            status = {"FLAGGED": t["status"], "REINSTATED": "APPROVED",
                      "UNARCHIVED": "APPROVED"}.get(event, event)
            t["status"] = status
            t["rejected_reason"] = reason if event == "REJECTED" else "NONE"
            if event == "APPROVED":
                t["quality_score"] = {"score": "GREEN", "date": now()}
            value = {"event": event, "message_template_id": int(t["id"]),
                     "message_template_name": t["name"],
                     "message_template_language": t["language"], "reason": reason,
                     "message_template_category": t["category"]}
            if event == "DISABLED":
                value["disable_info"] = {"disable_date": now()}
            if event == "PAUSED":
                value["other_info"] = {"title": "FIRST_PAUSE", "description": str(
                    body.get("description", "Your WhatsApp message template has been paused "
                             "for 3 hours because of low quality."))}
            payload = self._envelope(t["waba_id"], value, "message_template_status_update",
                                     now())
            sub = self.state["wabas"].get(t["waba_id"], {}).get(
                "subscribed_apps", {}).get(self.app_id)
            url = body.get("url") or (sub or {}).get("override_callback_uri") \
                or self.webhook_url
            self._save()
            out = {"template": {k: t.get(k) for k in TEMPLATE_FIELDS}, "bodies": [payload]}
        if body.get("webhook", True) is False:
            return dict(out, sent=0, responses=[])
        if sub is None or not url:
            return dict(out, sent=0, responses=[], not_delivered=(
                "the app is not subscribed to this WABA" if url else "no webhook URL"))
        raw = json.dumps(payload, separators=(",", ":")).encode()
        code, error = self.deliver(url, raw, body.get("signature"))
        with self.lock:
            self.state["webhooks"].append({"time": now(), "kind": "message_template_status_update",
                                           "url": url, "responses": [code]})
            del self.state["webhooks"][:-50]
            self._save()
        out.update(sent=1, url=url, responses=[code])
        if error:
            out["errors"] = [error]
        return out

    # -- failure injection --------------------------------------------------

    def add_inject(self, body):
        endpoint, error = body.get("endpoint"), str(body.get("error", ""))
        if endpoint not in INJECT_ENDPOINTS:
            raise ControlError(400, f"endpoint must be one of {', '.join(INJECT_ENDPOINTS)}")
        if error not in INJECT_ERRORS:
            raise ControlError(400, f"error must be one of {', '.join(INJECT_ERRORS)}")
        try:
            rule = {"error": error, "count": int(body.get("count", 1)),
                    "delay": float(body.get("delay", 30))}
            for key in ("subcode", "code", "http_status"):
                if body.get(key) is not None:
                    rule[key] = int(body[key])
        except (TypeError, ValueError):
            raise ControlError(400, "count, delay, subcode, code, http_status must be numbers")
        rule["variant"] = body.get("variant", "display_name" if error == "2388001"
                                   else "truncated")
        if error == "2388001" and rule["variant"] not in CERT_MESSAGES:
            raise ControlError(400, f"variant must be one of {', '.join(CERT_MESSAGES)}")
        if body.get("match") is not None:
            rule["match"] = str(body["match"])  # only calls whose body holds it
        if body.get("method") is not None:
            # Only calls of this HTTP method: GET /{waba}/subscribed_apps
            # answers while its POST (subscribing again) fails.
            method = str(body["method"]).upper()
            if method not in ("GET", "POST", "DELETE"):
                raise ControlError(400, "method must be GET, POST or DELETE")
            rule["method"] = method
        for key in ("message", "details"):
            if body.get(key) is not None:
                if not (isinstance(body[key], str) and 0 < len(body[key]) <= 8000):
                    raise ControlError(400, f"{key} must be 1..8000 characters")
                rule[key] = body[key]
        if body.get("message_hex") is not None:
            try:
                raw = bytes.fromhex(str(body["message_hex"]))
            except ValueError:
                raise ControlError(400, "message_hex must be hex digits")
            if not 0 < len(raw) <= 8000 or b'"' in raw or b"\\" in raw or min(raw) < 0x20:
                raise ControlError(400, "message_hex must be 1..8000 bytes, no quote, "
                                        "backslash or control byte")
            rule["message_hex"] = raw.hex()
        trace = body.get("fbtrace_id")
        if trace is not None:
            if not (isinstance(trace, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", trace)):
                raise ControlError(400, "fbtrace_id must be 1..40 of [A-Za-z0-9_-]")
            rule["fbtrace_id"] = trace
        with self.lock:
            self.injects.setdefault(endpoint, []).append(rule)
            return {"ok": True, "pending": copy.deepcopy(self.injects)}

    def clear_injects(self):
        with self.lock:
            self.injects.clear()
            self._wake.set()
            self._wake = threading.Event()
            return {"ok": True}

    def pause(self, seconds):
        """An injected delay, cut short by clear_injects (never under the lock)."""
        with self.lock:
            wake = self._wake
        wake.wait(max(0.0, seconds))

    def take_inject(self, endpoint, params=None, method=None):
        """The rule the next call of this endpoint obeys, consuming one use."""
        with self.lock:
            rules = self.injects.get(endpoint)
            if not rules:
                return None
            i = self._inject_index(rules, params, method)
            if i is None:
                return None
            rule = dict(rules[i])
            rules[i]["count"] -= 1
            if rules[i]["count"] <= 0:
                rules.pop(i)
            return rule

    @staticmethod
    def _inject_index(rules, params, method=None):
        """The first rule for this call: one with "match" only when the call's
        body holds that text (a campaign's chosen sends), one with "method"
        only for calls of that method, else the first rule without them."""
        text = json.dumps(params, sort_keys=True) if params else ""
        for i, rule in enumerate(rules):
            if "method" in rule and rule["method"] != method:
                continue
            if "match" not in rule or rule["match"] in text:
                return i
        return None

    def injected_error(self, endpoint, rule):
        code = rule.get("code")
        if endpoint in CATALOG_RATE_CODES and rule["error"] == "429" and code is None:
            code = CATALOG_RATE_CODES[endpoint]
            err = GraphError(rule.get("http_status") or 400, CATALOG_RATE_TEXTS[code], code,
                             trace=rule.get("fbtrace_id"))
            return err
        if rule["error"] == "190":
            sc = rule.get("subcode", 463)
            msg = (expired_message(now() - 60, now()) if sc == 463 else
                   REVOKE_MESSAGES.get(sc, "Error validating access token: The session has "
                                           "been invalidated.").format(app=self.app_id))
            err = GraphError(400, msg, 190, subcode=sc, www="invalid_token")
        elif rule["error"] == "429":
            if code is None:
                code = (130429 if endpoint == "messages" else 80007
                        if endpoint in ("phone_numbers", "phone", "register", "subscribed_apps",
                                        "deregister", "set_pin", "request_code",
                                        "verify_code", "smb_app_data")
                        else 4)
            texts = {4: "(#4) Application request limit reached",
                     17: "(#17) User request limit reached",
                     32: "(#32) Page request limit reached",
                     613: "(#613) Calls to this api have exceeded the rate limit.",
                     80007: "(#80007) Rate limit issues",
                     80008: "(#80008) There have been too many calls to this WhatsApp Business "
                            "account. Wait a bit and try again.",
                     130429: "(#130429) Rate limit hit"}
            details = {80007: "The WhatsApp Business Account has reached its rate limit.",
                       130429: "Cloud API message throughput has been reached."}
            status = rule.get("http_status") or (429 if code in WA_RATE_CODES else 400)
            err = GraphError(status, texts.get(code, f"(#{code}) Rate limit reached"), code,
                             transient=True if code in (4, 17, 32, 613) else None,
                             error_data={"messaging_product": "whatsapp",
                                         "details": details[code]} if code in details else None,
                             subcode=rule.get("subcode") or (2494055 if code == 130429 else None))
        elif rule["error"] in ONBOARDING_ERRORS:
            err = ONBOARDING_ERRORS[rule["error"]](rule)
        elif rule["error"] == "131053":
            err = wa_error(131053, "Media upload error",
                           "Unable to upload the media used in the message. Ensure it is a "
                           "supported media type.", status=rule.get("http_status") or 400)
        elif rule["error"] in MESSAGE_ERRORS:
            err = MESSAGE_ERRORS[rule["error"]](rule)
        elif rule["error"] == "131047":
            # Cloud API: a free-form message outside the 24-hour window.
            err = GraphError(rule.get("http_status") or 400, "(#131047) Re-engagement message",
                             131047, error_data={
                                 "messaging_product": "whatsapp",
                                 "details": "Message failed to send because more than 24 hours "
                                            "have passed since the customer last replied to "
                                            "this number."})
        else:  # "500"
            code = code if code is not None else 2
            msg = {1: "An unknown error occurred",
                   2: "An unexpected error has occurred. Please retry your request later."}
            err = GraphError(rule.get("http_status") or 500, msg.get(code, f"(#{code}) Service "
                             "temporarily unavailable"), code, transient=True,
                             subcode=rule.get("subcode"))
        if rule.get("http_status"):
            err.status = rule["http_status"]
        if rule.get("message") is not None:
            err.message = rule["message"]  # Meta's words vary, and grow
        if rule.get("message_hex") is not None:
            err.raw_message = bytes.fromhex(rule["message_hex"])
        if rule.get("details") is not None and err.error_data:
            err.error_data = dict(err.error_data, details=rule["details"])
        err.trace = rule.get("fbtrace_id")
        return err

    # -- control API --------------------------------------------------------

    def record_request(self, entry):
        with self.lock:
            self._seq = getattr(self, "_seq", 0) + 1
            entry["seq"] = self._seq
            self.requests.append(entry)

    def record_send(self, entry):
        """A send as it arrives; answered() fills in its status and, for
        a Graph error, its code."""
        b = entry.get("body") or {}
        text = b.get("text") if isinstance(b.get("text"), dict) else {}
        rec = {"time": entry["time"], "phone_number_id": entry["path"].split("/")[-2],
               "to": b.get("to"), "text": text.get("body"), "status": None, "code": None}
        with self.lock:
            self.sends.append(rec)
        return rec

    def answered(self, rec, status, code=None):
        with self.lock:
            rec["status"], rec["code"] = status, code

    def list_sends(self):
        with self.lock:
            return [dict(s) for s in self.sends]

    def clear_sends(self):
        with self.lock:
            self.sends = []
        return {"ok": True}

    def list_requests(self, endpoint=None):
        with self.lock:
            return [copy.deepcopy(r) for r in self.requests
                    if endpoint is None or r["endpoint"] == endpoint]

    def clear_requests(self):
        with self.lock:
            self.requests.clear()

    def reset(self):
        with self.lock:
            self.state = self._fresh()
            self.requests.clear()
            self.injects.clear()
            self.limits = dict(LIMITS_OFF)
            self._window.clear()
            self._pair_at.clear()
            self.rejected = {"130429": 0, "131056": 0}
            self._delay_wake.set()
            self._delay_wake = threading.Event()
            self._save()

    def snapshot(self):
        with self.lock:
            st = copy.deepcopy(self.state)
            for rec in st["tokens"].values():
                rec["state"] = self._token_state(rec)
            st["tokens"] = list(st["tokens"].values())
            st["codes"] = [dict(v, code=k) for k, v in st["codes"].items()]
            for cat in st["catalogs"].values():
                cat["tokens"] = [t["token"] for t in st["tokens"]
                                 if cat["id"] in t.get("catalogs", [])]
            st["app"] = {"id": self.app_id, "name": self.app_name,
                         "webhook_url": self.webhook_url}
            st["pending_injections"] = copy.deepcopy(self.injects)
            return st

    def set_config(self, body):
        with self.lock:
            cfg = self.state["config"]
            checks = {"scenario": lambda v: v in SCENARIOS,
                      "code_grant": lambda v: v in CODE_GRANTS,
                      "dialog_auto": lambda v: v in (None, "continue", "cancel"),
                      "require_appsecret_proof": lambda v: isinstance(v, bool),
                      "pins": lambda v: isinstance(v, dict) and all(
                          re.fullmatch(r"\d{6}", str(x)) for x in v.values()),
                      "allowed_redirect_uris": lambda v: isinstance(v, list),
                      "sdk_code_ttl": lambda v: (isinstance(v, int) and not isinstance(v, bool)
                                                 and 1 <= v <= 3600),
                      "history_sharing": lambda v: isinstance(v, bool),
                      "smb_sync_webhooks": lambda v: isinstance(v, bool),
                      "register_limit": lambda v: v is None or (
                          isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1000)}
            for key, value in body.items():
                if key not in checks or not checks[key](value):
                    raise ControlError(400, f"bad config value for {key!r}")
            for key, value in body.items():
                if key == "pins":
                    cfg["pins"].update({k: str(v) for k, v in value.items()})
                else:
                    cfg[key] = value
            self._save()
            return copy.deepcopy(cfg)

    NUMBER_UPDATES = {
        "name_status": lambda v: v in ("APPROVED", "PENDING_REVIEW", "DECLINED", "EXPIRED",
                                       "AVAILABLE_WITHOUT_REVIEW", "NONE"),
        "code_verification_status": lambda v: v in ("VERIFIED", "NOT_VERIFIED", "EXPIRED"),
        "in_use_elsewhere": lambda v: isinstance(v, bool),
        "is_on_biz_app": lambda v: isinstance(v, bool),
        "registered": lambda v: isinstance(v, bool),
        "quality_rating": lambda v: v in ("GREEN", "YELLOW", "RED", "UNKNOWN"),
        "status": lambda v: isinstance(v, str) and re.fullmatch(r"[A-Z_]{1,32}", v),
        "messaging_limit_tier": lambda v: isinstance(v, str) and re.fullmatch(
            r"TIER_[0-9A-Z]{1,12}", v),
        "verified_name": lambda v: isinstance(v, str) and 0 < len(v) <= 120,
        "messaging_limit": lambda v: isinstance(v, str) and re.fullmatch(
            r"TIER_[0-9A-Z]{1,12}", v),
        "throughput": lambda v: isinstance(v, dict) and v.get("level") in (
            "STANDARD", "HIGH", "NOT_APPLICABLE"),
        "webhook_override": lambda v: v is None or (isinstance(v, str) and
                                                    v.startswith("http")),
        "register_calls": lambda v: v == [],
        "smb_sync": lambda v: v == {},
    }

    def update_number(self, body):
        """What happens at Meta outside the API: a display name approved, a
        number freed from its old account, a sync allowed again, ..."""
        with self.lock:
            number = self.state["numbers"].get(str(body.get("phone_number_id")))
            if number is None:
                raise ControlError(400, "phone_number_id must be a fixture number")
            changes = {k: v for k, v in body.items() if k != "phone_number_id"}
            for key, value in changes.items():
                if key not in self.NUMBER_UPDATES or not self.NUMBER_UPDATES[key](value):
                    raise ControlError(400, f"bad value for {key!r}")
            number.update(changes)
            self._save()
            return copy.deepcopy(number)

    def _select_tokens(self, body):
        if body.get("all"):
            return list(self.state["tokens"].values())
        rec = self.state["tokens"].get(body.get("token"))
        if rec is None:
            raise ControlError(404, "unknown token")
        return [rec]

    def revoke(self, body):
        with self.lock:
            try:
                subcode = int(body.get("subcode", 460))
            except (TypeError, ValueError):
                raise ControlError(400, "subcode must be a number") from None
            recs = self._select_tokens(body)
            for rec in recs:
                rec["revoked_subcode"] = subcode
            self._save()
            return {"revoked": len(recs)}

    def unshare(self, body):
        """The business stops sharing a WABA with the app: the token stays valid,
        debug_token no longer lists the WABA, and its objects are out of reach."""
        with self.lock:
            waba = str(body.get("waba_id"))
            recs = self._select_tokens(body)
            n = 0
            for rec in recs:
                if waba in rec["wabas"]:
                    rec["wabas"] = [w for w in rec["wabas"] if w != waba]
                    n += 1
            self._save()
            return {"unshared": n}

    def expire(self, body):
        with self.lock:
            recs = self._select_tokens(body)
            for rec in recs:
                rec["expires_at"] = now() - 1
            self._save()
            return {"expired": len(recs)}

    def set_subscription(self, body, subscribed):
        """What POST / DELETE /{waba}/subscribed_apps do, and what PARTNER_REMOVED
        does to the subscription, without a token."""
        with self.lock:
            waba = self.state["wabas"].get(str(body.get("waba_id")))
            if waba is None:
                raise ControlError(400, "waba_id must be a fixture WABA")
            if subscribed:
                waba["subscribed_apps"][self.app_id] = {
                    "override_callback_uri": body.get("override_callback_uri")}
            else:
                waba["subscribed_apps"].pop(self.app_id, None)
            self._save()
            return {"subscribed_apps": sorted(waba["subscribed_apps"])}

    def add_sender(self, body):
        """A WABA with one registered number and a system-user token for it
        (control API): what a connected workspace has, made in one call so a
        test of sends can have many workspaces without the dialog."""
        with self.lock:
            waba = str(body.get("waba_id") or "")
            pid = str(body.get("phone_number_id") or "")
            if not (re.fullmatch(r"\d{6,20}", waba) and re.fullmatch(r"\d{6,20}", pid)):
                raise ControlError(400, "waba_id and phone_number_id must be 6-20 digits")
            if pid in self.state["numbers"] and self.state["numbers"][pid]["waba_id"] != waba:
                raise ControlError(409, "that number belongs to another WABA")
            fx = fixture(self.app_id)
            if waba not in self.state["wabas"]:
                w = copy.deepcopy(fx["wabas"][WABA_1])
                w.update({"id": waba, "name": str(body.get("name") or f"WABA {waba}"),
                          "subscribed_apps": {}})
                self.state["wabas"][waba] = w
            n = copy.deepcopy(fx["numbers"][PHONE_1])
            n.update({"id": pid, "waba_id": waba, "registered": True,
                      "display_phone_number": str(body.get("display_phone_number") or
                                                  "+1 555 " + pid[-4:])})
            self.state["numbers"][pid] = n
            token = new_token()
            self._add_token(self.state, token, "system_user", [waba],
                            ["whatsapp_business_management",
                             "whatsapp_business_messaging"], 0)
            self._save()
            return {"token": token, "waba_id": waba, "phone_number_id": pid}

    def create_catalog(self, body):
        with self.lock:
            cid = str(body.get("catalog_id") or "".join(secrets.choice(string.digits)
                                                        for _ in range(15)))
            if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", cid):
                raise ControlError(400, "catalog_id must be 1-64 letters, digits or _")
            token = str(body.get("token") or new_token())
            if token in self.state["tokens"]:
                raise ControlError(409, "that token already exists")
            self.state["catalogs"][cid] = {
                "id": cid, "name": str(body.get("name") or "Sandbox catalog"),
                "product_count": int(body.get("product_count", 0)), "vertical": "commerce"}
            self._add_token(self.state, token, "catalog", [], ["catalog_management",
                                                               "business_management"],
                            0, catalogs=[cid])
            self._save()
            return {"catalog_id": cid, "name": self.state["catalogs"][cid]["name"],
                    "token": token}

    # -- webhooks -----------------------------------------------------------

    def build_webhooks(self, body):
        """Real-shaped payloads for /_sandbox/webhook, plus the URL to post them to."""
        with self.lock:
            kind = body.get("kind", "message")
            if kind not in WEBHOOK_KINDS:
                raise ControlError(400, f"kind must be one of {', '.join(WEBHOOK_KINDS)}")
            try:
                count = int(body.get("count", 1))
            except (TypeError, ValueError):
                count = 0
            if not 1 <= count <= 100:
                raise ControlError(400, "count must be 1..100")
            numbers = self.state["numbers"]
            pid = str(body["phone_number_id"]) if body.get("phone_number_id") else None
            waba = body.get("waba_id")
            if pid and not waba:
                waba = numbers[pid]["waba_id"] if pid in numbers else WABA_1
            waba = str(waba or WABA_1)
            if not pid:
                pid = next((n["id"] for n in numbers.values() if n["waba_id"] == waba), PHONE_1)
            pid = str(pid)
            display = digits_of(numbers[pid]["display_phone_number"]) if pid in numbers \
                else str(body.get("display_phone_number", "15550000000"))
            sub = self.state["wabas"].get(waba, {}).get("subscribed_apps", {}).get(self.app_id)
            url = (body.get("url") or (sub or {}).get("override_callback_uri")
                   or self.webhook_url)
            if not url:
                raise ControlError(400, "no webhook URL: start with --webhook-url or pass \"url\"")
            meta = {"display_phone_number": display, "phone_number_id": pid}
            if kind in SYNC_TYPES:
                payloads = self._sync_payloads(kind, body, waba, meta)
            else:
                payloads = [self._payload(kind, body, waba, pid, meta, i, count)
                            for i in range(count)]
            # Like Meta: a WABA's messages, statuses and account changes reach only
            # apps it subscribed (POST /{waba}/subscribed_apps). PARTNER_* events are
            # about the partnership itself and go to the partner app regardless, as
            # PARTNER_ADDED must arrive before the app can subscribe. WABAs the
            # sandbox does not know are sent as given (tests of unknown ids).
            value = payloads[0]["entry"][0]["changes"][0]["value"]
            partner = kind == "account_update" and "waba_info" in value
            blocked = (waba in self.state["wabas"] and sub is None and not partner)
            if kind == "account_update" and body.get("revoke_tokens", True) and \
                    payloads[0]["entry"][0]["changes"][0]["value"]["event"] in (
                        "PARTNER_REMOVED", "PARTNER_APP_UNINSTALLED"):
                # Meta cuts the app off before it tells the app so.
                for rec in self.state["tokens"].values():
                    if waba in rec["wabas"] and not rec.get("revoked_subcode"):
                        rec["revoked_subcode"] = 458
                self.state["wabas"].get(waba, {}).get("subscribed_apps", {}).pop(
                    self.app_id, None)
                self._save()
            return url, payloads, blocked

    def _payload(self, kind, body, waba, pid, meta, i, count):
        t = now()
        suffix = f" #{i + 1}" if count > 1 else ""
        if kind == "message":
            sender = digits_of(body.get("from", CUSTOMER_WA_ID)) or CUSTOMER_WA_ID
            value = {"messaging_product": "whatsapp", "metadata": meta,
                     "contacts": [{"profile": {"name": body.get("name", CUSTOMER_NAME)},
                                   "wa_id": sender}],
                     "messages": [{"from": sender, "id": wamid(sender), "timestamp": str(t),
                                   "type": "text", "text": {"body": body.get(
                                       "text", "Hello from the Meta sandbox") + suffix}}]}
            return self._envelope(waba, value, "messages")
        if kind == "status":
            status = body.get("status", "delivered")
            if status not in ("sent", "delivered", "read", "failed", "played"):
                raise ControlError(400, "status must be sent, delivered, read, failed or played")
            last = next((m for m in reversed(self.state["messages"])
                         if m["phone_number_id"] == pid), None)
            mid = body.get("message_id") or (last["id"] if last else wamid(CUSTOMER_WA_ID))
            st = {"id": mid, "status": status, "timestamp": str(t),
                  "recipient_id": last["wa_id"] if last else CUSTOMER_WA_ID}
            if status in ("sent", "delivered"):
                st["pricing"] = {"billable": False, "pricing_model": "PMP",
                                 "type": "free_customer_service", "category": "service"}
            if status == "failed":
                text = "This message was not delivered to maintain healthy ecosystem engagement."
                st["errors"] = [{"code": 131049, "title": text, "message": text,
                                 "error_data": {"details": "In order to maintain a healthy "
                                                "ecosystem engagement, the message failed to "
                                                "be delivered."},
                                 "href": "/documentation/business-messaging/whatsapp/support/"
                                         "error-codes"}]
            value = {"messaging_product": "whatsapp", "metadata": meta, "statuses": [st]}
            return self._envelope(waba, value, "messages")
        if kind == "smb_message_echoes":
            # A message the merchant sent from the WhatsApp Business app.
            to = digits_of(body.get("to", CUSTOMER_WA_ID)) or CUSTOMER_WA_ID
            value = {"messaging_product": "whatsapp", "metadata": meta, "message_echoes": [{
                "from": meta["display_phone_number"], "to": to, "id": wamid(to),
                "timestamp": str(t), "type": "text",
                "text": {"body": body.get("text", "Sent from the WhatsApp Business app")
                         + suffix}}]}
            return self._envelope(waba, value, "smb_message_echoes")
        if kind == "error":
            value = {"messaging_product": "whatsapp", "metadata": meta, "errors": [{
                "code": 131000, "title": "Something went wrong", "message":
                "Something went wrong", "error_data": {"details": "Message failed to send "
                                                       "due to an unknown error."},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/"
                        "error-codes/"}]}
            return self._envelope(waba, value, "messages")
        if kind in TROUBLE_KINDS:
            return self._trouble_payload(kind, body, waba, meta, t)
        event = str(body.get("event", "PARTNER_REMOVED"))
        value = {"event": event}
        partner = event.startswith("PARTNER_") and "CERTIFICATION" not in event
        if partner:
            value["waba_info"] = {"waba_id": waba, "owner_business_id": BUSINESS_ID}
            if event in ("PARTNER_APP_INSTALLED", "PARTNER_APP_UNINSTALLED"):
                value["waba_info"]["partner_app_id"] = self.app_id
        elif event == "ACCOUNT_RESTRICTION":
            value["restriction_info"] = [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                                          "expiration": t + 7 * 86400}]
        elif event == "DISABLED_UPDATE":
            day = datetime.fromtimestamp(t, timezone.utc)
            value["ban_info"] = {"waba_ban_state": body.get("ban_state", "DISABLE"),
                                 "waba_ban_date": f"{day:%B} {day.day}, {day.year}"}
        elif event == "ACCOUNT_VIOLATION":
            value["violation_info"] = {"violation_type": body.get("violation_type", "ADULT")}
        # PARTNER_* events arrive on the partner's (our) business id; others on the WABA.
        return self._envelope(PARTNER_BUSINESS_ID if partner else waba, value,
                              "account_update", t)

    def _trouble_payload(self, kind, body, waba, meta, t):
        """A trouble field's value with the documented members (defaults
        below), then body["value"]'s members over it (a test's own)."""
        display = meta["display_phone_number"]
        tpl = {"message_template_id": int(body.get("template_id", 1234567890123456)),
               "message_template_name": body.get("name", "order_update"),
               "message_template_language": body.get("language", "en_US")}
        if kind == "message_template_status_update":
            value = dict(tpl, event=body.get("event", "REJECTED"),
                         reason=body.get("reason", "INVALID_FORMAT"),
                         message_template_category=body.get("category", "UTILITY"))
        elif kind == "message_template_quality_update":
            value = dict(previous_quality_score=body.get("previous", "GREEN"),
                         new_quality_score=body.get("quality", "YELLOW"), **tpl)
        elif kind == "template_category_update":
            value = dict(tpl, previous_category=body.get("previous", "UTILITY"),
                         new_category=body.get("category", "MARKETING"))
        elif kind == "phone_number_quality_update":
            event = body.get("event", "FLAGGED")
            value = {"display_phone_number": display, "event": event,
                     "current_limit": body.get("current_limit", "TIER_1K"),
                     "max_daily_conversations_per_business": 1000}
            if event in ("DOWNGRADE", "UPGRADE"):
                value["old_limit"] = body.get("old_limit", "TIER_10K")
        elif kind == "phone_number_name_update":
            decision = body.get("decision", "REJECTED")
            value = {"display_phone_number": display, "decision": decision,
                     "requested_verified_name": body.get("name", "Acme Shop"),
                     "rejection_reason": body.get("reason") if decision == "REJECTED"
                     else None}
        elif kind == "account_alerts":
            value = {"entity_type": body.get("entity_type", "WABA"),
                     "entity_id": str(body.get("entity_id", waba)),
                     "alert_info": {
                         "alert_severity": body.get("severity", "CRITICAL"),
                         "alert_status": body.get("alert_status", "ACTIVE"),
                         "alert_type": body.get("alert_type",
                                                "INCREASED_CAPABILITIES_ELIGIBILITY_FAILED"),
                         "alert_description": body.get(
                             "description", "Your business is not eligible for a higher "
                             "messaging limit at this time.")}}
        elif kind == "account_review_update":
            value = {"decision": body.get("decision", "REJECTED")}
        elif kind == "business_capability_update":
            value = {"max_daily_conversation_per_phone": 2000,
                     "max_daily_conversations_per_business": 2000,
                     "max_phone_numbers_per_business": 2, "max_phone_numbers_per_waba": 2}
        else:  # security
            value = {"display_phone_number": display,
                     "event": body.get("event", "PIN_CHANGED"),
                     "requester": str(body.get("requester", "1234567890"))}
        extra = body.get("value")
        if extra is not None:
            if not isinstance(extra, dict):
                raise ControlError(400, "value must be an object")
            value.update(extra)
        return self._envelope(waba, value, kind, t)

    def _sync_payloads(self, kind, body, waba, meta):
        """Coexistence's smb_app_state_sync (the app's contacts, one webhook) and
        history (one webhook per phase: 0 = the last day, 1 = up to 90 days,
        2 = up to 180 days; or one with error 2593109 when the business chose
        not to share its chats), shaped as Meta's webhook reference."""
        t = now()
        business = meta["display_phone_number"]
        value = {"messaging_product": "whatsapp", "metadata": meta}
        if kind == "smb_app_state_sync":
            action = body.get("action", "add")
            if action not in ("add", "remove"):
                raise ControlError(400, "action must be add or remove")
            value["state_sync"] = [{"type": "contact",
                                    "contact": {"full_name": full, "first_name": first,
                                                "phone_number": wa_id},
                                    "action": action, "metadata": {"timestamp": str(t)}}
                                   for wa_id, full, first in APP_CONTACTS]
            return [self._envelope(waba, value, kind)]
        shared = body.get("shared", self.state["config"]["history_sharing"])
        if not shared:
            text = "History sync is turned off by the business from the WhatsApp Business App"
            value["history"] = [{"errors": [{"code": 2593109, "title": text, "message": text,
                                             "error_data": {"details": text}}]}]
            return [self._envelope(waba, value, kind)]
        phases = [int(body["phase"])] if body.get("phase") is not None else [0, 1, 2]
        if not all(0 <= ph <= 2 for ph in phases):
            raise ControlError(400, "phase must be 0, 1 or 2")
        out = []
        for ph in phases:
            age = (3600, 30 * 86400, 120 * 86400)[ph]
            threads = []
            for wa_id, full, _ in APP_CONTACTS:
                asked, answered = t - age - 60, t - age
                threads.append({"id": wa_id, "messages": [
                    {"from": wa_id, "id": wamid(wa_id), "timestamp": str(asked),
                     "type": "text", "text": {"body": f"Hi, is my order ready? ({full})"},
                     "history_context": {"status": "read"}},
                    {"from": business, "to": wa_id, "id": wamid(wa_id),
                     "timestamp": str(answered), "type": "text",
                     "text": {"body": "Yes, you can pick it up today."},
                     "history_context": {"status": "delivered"}}]})
            value = {"messaging_product": "whatsapp", "metadata": meta,
                     "history": [{"metadata": {"phase": ph, "chunk_order": 1,
                                               "progress": round(100 * (ph + 1) / 3)
                                               if len(phases) > 1 else 100},
                                  "threads": threads}]}
            out.append(self._envelope(waba, value, kind))
        return out

    def sync_webhooks_later(self, pid, sync):
        """What Meta sends after POST /{phone}/smb_app_data (when config
        smb_sync_webhooks is on): the webhooks of that sync_type, built now
        (from the state of this moment) and posted from another thread."""
        body = {"kind": sync, "phone_number_id": pid}
        with self.lock:
            if not self.state["config"]["smb_sync_webhooks"]:
                return
            try:
                built = self.build_webhooks(body)
            except ControlError as e:
                sys.stderr.write(f"smb_app_data {sync} for {pid}: no webhook ({e})\n")
                return

        def send():
            time.sleep(0.2)  # after the app has had its answer
            out = self.send_webhooks(body, built)
            sys.stderr.write(f"smb_app_data {sync} for {pid}: {out['sent']} webhook(s) "
                             f"{out.get('not_delivered') or out['responses']}\n")

        threading.Thread(target=send, daemon=True).start()

    @staticmethod
    def _envelope(entry_id, value, field, t=None):
        entry = {"id": entry_id}
        if t is not None:
            entry["time"] = t
        entry["changes"] = [{"value": value, "field": field}]
        return {"object": "whatsapp_business_account", "entry": [entry]}

    def deliver(self, url, raw, signature):
        """POST one webhook body as Meta does; (status or None, error text or None)."""
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature != "none":
            key = b"not-the-app-secret" if signature == "bad" else self._secret
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, raw,
                                                                  hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, raw, hashlib.sha1).hexdigest()
        req = urllib.request.Request(url, data=raw, headers=headers, method="POST")
        try:
            with OPENER.open(req, timeout=10) as resp:
                resp.read()
                return resp.status, None
        except urllib.error.HTTPError as e:
            return e.code, None
        except (urllib.error.URLError, OSError) as e:
            return None, str(getattr(e, "reason", e))

    def send_webhooks(self, body, built=None):
        url, payloads, blocked = built or self.build_webhooks(body)
        if blocked:
            return {"sent": 0, "url": url, "responses": [], "bodies": payloads,
                    "not_delivered": "the app is not subscribed to this WABA "
                                     "(POST /{waba_id}/subscribed_apps)"}
        times = 2 if body.get("redeliver") else 1
        sent, codes, errors, bodies = 0, [], [], []
        for payload in payloads:
            raw = json.dumps(payload, separators=(",", ":")).encode()
            for _ in range(times):
                code, error = self.deliver(url, raw, body.get("signature"))
                sent += 1
                codes.append(code)
                bodies.append(payload)
                if error:
                    errors.append(error)
        with self.lock:
            self.state["webhooks"].append({"time": now(), "kind": body.get("kind", "message"),
                                           "url": url, "responses": codes})
            del self.state["webhooks"][:-50]
            self._save()
        out = {"sent": sent, "url": url, "responses": codes, "bodies": bodies}
        if errors:
            out["errors"] = errors
        return out


# --- HTML --------------------------------------------------------------------

CSS = """
body{margin:0;background:#f0f2f5;font:14px/1.4 Helvetica,Arial,sans-serif;color:#1c1e21}
header{background:#1877f2;color:#fff;padding:10px 20px;font-weight:bold;font-size:20px}
header small{font-size:12px;font-weight:normal;background:#fff3;border-radius:4px;padding:2px 6px}
main{max-width:560px;margin:24px auto;background:#fff;border-radius:8px;padding:24px;
box-shadow:0 1px 2px #0003}
main.wide{max-width:900px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}
ul{padding-left:20px}li span{display:block;color:#65676b;font-size:13px}
.muted{color:#65676b;font-size:12px}
button{border:0;border-radius:6px;padding:9px 18px;font-weight:bold;font-size:14px;cursor:pointer}
.primary{background:#1877f2;color:#fff}.secondary{background:#e4e6eb;color:#050505}
.buttons{display:flex;justify-content:flex-end;gap:8px;margin-top:18px}
select{padding:6px;border-radius:6px;border:1px solid #ccd0d5}
table{border-collapse:collapse;width:100%;font-size:12px}td,th{border-bottom:1px solid #e4e6eb;
padding:4px;text-align:left}form.inline{display:inline}form.inline button{padding:4px 8px;
font-size:12px}.flash{background:#e7f3ff;padding:8px;border-radius:6px}
"""


def page(title, inner, wide=False):
    cls = ' class="wide"' if wide else ""
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(title)}</title><style>{CSS}</style></head><body><header>facebook "
            f"<small>Meta sandbox</small></header><main{cls}>"
            f"{inner}</main></body></html>").encode()


def dialog_page(sb, prefix, p, ctx):
    esc = html.escape
    perms = "".join(f"<li><strong>{esc(s)}</strong><span>{esc(PERMISSIONS.get(s, ''))}"
                    "</span></li>" for s in ctx["scopes"])
    hidden = "".join(f"<input type=\"hidden\" name=\"{esc(k)}\" value=\"{esc(v)}\">"
                     for k, v in p.items() if k not in ("decision", "scenario"))
    options = "".join(f"<option value=\"{k}\"{' selected' if k == ctx['scenario'] else ''}>"
                      f"{esc(label)}</option>" for k, (label, _) in SCENARIOS.items())
    assets = ""
    for wid, info in sb.dialog_assets().items():
        nums = ", ".join(f"{esc(d)} ({esc(n)})" for d, n in info["numbers"])
        shared = [label for label, wabas in SCENARIOS.values() if wid in wabas]
        note = "" if wid in SCENARIOS["one_waba"][1] else \
            f" <em>({esc(' / '.join(shared))} only)</em>"
        assets += (f"<li>WhatsApp Business Account <strong>{esc(info['name'])}</strong> "
                   f"<span>ID {esc(wid)}: {nums}</span>{note}</li>")
    inner = (f"<h1>{esc(sb.app_name)}</h1><p>{esc(sb.app_name)} is requesting access to:</p>"
             f"<ul>{perms}</ul><form method=\"get\" action=\"{esc(prefix)}/dialog/oauth/decide\">"
             f"{hidden}<h2>Business assets that will be shared</h2><p>Business: <strong>"
             f"{esc(BUSINESS_NAME)}</strong> <span class=\"muted\">(ID {BUSINESS_ID})</span></p>"
             f"<ul>{assets}</ul><label for=\"scenario\">Share: </label><select id=\"scenario\" "
             f"name=\"scenario\">{options}</select><div class=\"buttons\"><button type=\"submit\" "
             f"id=\"cancel\" name=\"decision\" value=\"cancel\" class=\"secondary\">Cancel"
             f"</button><button type=\"submit\" id=\"continue\" name=\"decision\" "
             f"value=\"continue\" class=\"primary\">Continue</button></div></form>"
             f"<p class=\"muted\">By continuing, {esc(sb.app_name)} will receive ongoing access "
             f"to the information you share. App ID {esc(sb.app_id)}.</p>"
             f"<p class=\"muted\"><a href=\"/_sandbox/\">Sandbox control page</a></p>")
    return page(f"Log in with Facebook | {sb.app_name}", inner)


def es_dialog_page(sb, prefix, p, ctx):
    """The popup FB.login opens: pick what to share, then finish, finish
    without a number, cancel (on a chosen screen) or report an error."""
    esc = html.escape
    hidden = "".join(f"<input type=\"hidden\" name=\"{esc(k)}\" value=\"{esc(v)}\">"
                     for k, v in p.items() if k in ("client_id", "config_id", "scope",
                                                    "response_type", "extras", "origin",
                                                    "override_default_response_type",
                                                    "display"))
    scen = "".join(f"<option value=\"{k}\"{' selected' if k == ctx['scenario'] else ''}>"
                   f"{esc(label)}</option>" for k, (label, _) in SCENARIOS.items())
    numbers = sb.es_numbers(ctx["scenario"])
    first = next((n for n in numbers if n[3] == ctx["coexistence"]), None)
    chosen = first[0] if first else None
    nums = "".join(f"<option value=\"{esc(pid)}\"{' selected' if pid == chosen else ''}>"
                   f"{esc(label)}{' [WhatsApp Business app]' if app else ''}</option>"
                   for pid, label, _, app in numbers)
    wabas = "".join(f"<option value=\"{w}\">{esc(sb.dialog_assets()[w]['name'])} ({w})"
                    "</option>" for w in SCENARIOS[ctx["scenario"]][1])
    steps = "".join(f"<option value=\"{x}\"{' selected' if x == 'PHONE_NUMBER_SETUP' else ''}>"
                    f"{x}</option>" for x in ES_STEPS)
    kind = ("Connect your WhatsApp Business app" if ctx["coexistence"]
            else "Set up WhatsApp Business")
    inner = (f"<h1>{esc(kind)}</h1><p>{esc(sb.app_name)} wants to use WhatsApp for your "
             f"business. Business: <strong>{esc(BUSINESS_NAME)}</strong> <span class=\"muted\">"
             f"(ID {BUSINESS_ID})</span></p><form id=\"es\" method=\"get\" "
             f"action=\"{esc(prefix)}/dialog/embedded_signup/decide\">{hidden}"
             f"<h2>What to share</h2><p><label for=\"scenario\">Accounts: </label><select "
             f"id=\"scenario\" name=\"scenario\">{scen}</select> <button type=\"submit\" "
             f"id=\"change\" name=\"outcome\" value=\"change\" class=\"secondary\">Change"
             f"</button></p><p><label for=\"phone_number_id\">Phone number: </label><select "
             f"id=\"phone_number_id\" name=\"phone_number_id\">{nums}</select></p>"
             f"<p><label for=\"waba_id\">Without a number, share: </label><select id=\"waba_id\" "
             f"name=\"waba_id\">{wabas}</select></p><p><label for=\"current_step\">Cancel on "
             f"screen: </label><select id=\"current_step\" name=\"current_step\">{steps}"
             f"</select></p><div class=\"buttons\"><button type=\"submit\" id=\"cancel\" "
             f"name=\"outcome\" value=\"cancel\" class=\"secondary\">Cancel</button><button "
             f"type=\"submit\" id=\"report-error\" name=\"outcome\" value=\"report_error\" "
             f"class=\"secondary\">Report an error</button><button type=\"submit\" "
             f"id=\"finish-only-waba\" name=\"outcome\" value=\"finish_only_waba\" "
             f"class=\"secondary\">Finish without a number</button><button type=\"submit\" "
             f"id=\"finish\" name=\"outcome\" value=\"finish\" class=\"primary\">Finish"
             f"</button></div></form><p class=\"muted\">Meta sandbox: this popup stands in "
             f"for Embedded Signup; it answers the page at {esc(ctx['origin'])}.</p>"
             f"<script>{ES_ABANDON_JS.replace('__ORIGIN__', js_string(ctx['origin']))}</script>")
    return page(f"Embedded Signup | {sb.app_name}", inner)


def js_string(value):
    """A JSON string literal that is safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c")


# Closing the popup before finishing is Meta's "abandoned flow": a CANCEL
# with the screen the merchant was on (here: the step chosen on the page).
ES_ABANDON_JS = ("(function(){var f=document.getElementById('es'),sent=false;"
                 "f.addEventListener('submit',function(){sent=true;});"
                 "window.addEventListener('pagehide',function(){var o=window.opener;"
                 "if(sent||!o||o.closed)return;o.postMessage(JSON.stringify({data:{"
                 "current_step:document.getElementById('current_step').value},"
                 "type:'WA_EMBEDDED_SIGNUP',event:'CANCEL'}),__ORIGIN__);});})();")


def es_result_page(origin, session, login):
    """Posts the session event (a JSON string, as Meta's) and the login
    response to the opener, then closes. Without an opener it shows them."""
    blob = json.dumps({"origin": origin, "session": session, "login": login})
    blob = blob.replace("<", "\\u003c")
    script = ("(function(){var r=JSON.parse(document.getElementById('es-result').textContent);"
              "var o=window.opener;if(!o||o.closed){document.getElementById('note').textContent="
              "'No window to return to.';return;}"
              "o.postMessage(JSON.stringify(r.session),r.origin);"
              "o.postMessage({type:'SANDBOX_FB_LOGIN_RESPONSE',response:r.login},r.origin);"
              "setTimeout(function(){window.close();},100);})();")
    inner = (f"<h1>{html.escape(session['event'])}</h1><p id=\"note\">Returning to "
             f"{html.escape(origin)}…</p><pre>{html.escape(json.dumps(session, indent=1))}</pre>"
             f"<script type=\"application/json\" id=\"es-result\">{blob}</script>"
             f"<script>{script}</script>")
    return page("Embedded Signup", inner)


SDK_JS = r"""/* Meta sandbox: a stand-in for connect.facebook.net/en_US/sdk.js.
 * FB.init / FB.login as Embedded Signup uses them; FB.login opens the
 * sandbox's Embedded Signup dialog in a popup. The popup posts the
 * WA_EMBEDDED_SIGNUP session event to the opener with this sandbox's origin
 * (Meta's come from https://www.facebook.com), then the login response,
 * which calls FB.login's callback. */
(function () {
  "use strict";
  var ORIGIN = __ORIGIN__;
  if (window.FB && window.FB.__sandbox) return;
  var settings = null;
  function login(cb, opts) {
    if (!settings || !settings.appId) {
      console.error("FB.login() called before FB.init().");
      return;
    }
    opts = opts || {};
    var q = new URLSearchParams();
    q.set("client_id", String(settings.appId));
    if (opts.config_id) q.set("config_id", String(opts.config_id));
    if (opts.scope) q.set("scope", String(opts.scope));
    q.set("response_type", opts.response_type || "token");
    if (opts.override_default_response_type) q.set("override_default_response_type", "true");
    q.set("extras", JSON.stringify(opts.extras || {}));
    q.set("origin", window.location.origin);
    q.set("display", "popup");
    var url = ORIGIN + "/" + (settings.version || "v25.0") + "/dialog/embedded_signup?" + q;
    var popup = window.open(url, "fb_embedded_signup", "width=640,height=760,left=80,top=40");
    var done = false, timer = null;
    function finish(resp) {
      if (done) return;
      done = true;
      window.removeEventListener("message", onMessage);
      if (timer) clearInterval(timer);
      if (typeof cb === "function") cb(resp);
    }
    function onMessage(ev) {
      if (ev.origin !== ORIGIN || ev.source !== popup) return;
      var d = ev.data;
      if (d && typeof d === "object" && d.type === "SANDBOX_FB_LOGIN_RESPONSE")
        finish(d.response);
    }
    if (!popup) {
      finish({ authResponse: null, status: "unknown" });
      return;
    }
    window.addEventListener("message", onMessage);
    timer = setInterval(function () {
      if (popup.closed) {
        clearInterval(timer);
        timer = null;
        /* Messages still in flight arrive first. */
        setTimeout(function () { finish({ authResponse: null, status: "unknown" }); }, 300);
      }
    }, 250);
  }
  window.FB = {
    __sandbox: true,
    init: function (o) { settings = o || {}; },
    login: login,
    getLoginStatus: function (cb) { if (cb) cb({ status: "unknown", authResponse: null }); },
    logout: function (cb) { if (cb) cb({ status: "unknown", authResponse: null }); }
  };
  if (typeof window.fbAsyncInit === "function") setTimeout(window.fbAsyncInit, 0);
})();
"""


def control_page(sb, flash):
    esc = html.escape
    st = sb.snapshot()

    def button(action, label, **fields):
        hidden = "".join(f"<input type=\"hidden\" name=\"{esc(k)}\" value=\"{esc(str(v))}\">"
                         for k, v in fields.items())
        return (f"<form class=\"inline\" method=\"post\" action=\"/_sandbox/ui/{action}\">"
                f"{hidden}<button class=\"secondary\">{esc(label)}</button></form> ")

    rows = ""
    for n in st["numbers"].values():
        subscribed = sb.app_id in st["wabas"][n["waba_id"]]["subscribed_apps"]
        hooks = (button("webhook", "Inbound message", kind="message", phone_number_id=n["id"])
                 + "".join(button("webhook", f"Status: {s}", kind="status", status=s,
                                  phone_number_id=n["id"]) for s in ("delivered", "read")))
        states, fixes = [], ""
        if n["code_verification_status"] != "VERIFIED":
            sent = n.get("verification")
            states.append(f"code {n['code_verification_status']}"
                          + (f", last code sent: {sent['code']}" if sent else ""))
        if n["name_status"] != "APPROVED":
            states.append(f"display name {n['name_status']}")
            fixes += button("number", "Approve display name", phone_number_id=n["id"],
                            change="approve_name")
        if n.get("in_use_elsewhere"):
            states.append("on another WhatsApp account")
            fixes += button("number", "Free the number", phone_number_id=n["id"],
                            change="free")
        if n.get("is_on_biz_app"):
            states.append("WhatsApp Business app; synced: "
                          + (", ".join(n.get("smb_sync") or {}) or "nothing"))
            hooks += button("webhook", "Echo from the app", kind="smb_message_echoes",
                            phone_number_id=n["id"])
        rows += (f"<tr><td>{esc(n['display_phone_number'])}<br><span class=\"muted\">"
                 f"{esc(n['id'])}</span></td><td>{esc(n['waba_id'])}</td>"
                 f"<td>{'yes' if n['registered'] else 'no'}</td>"
                 f"<td>{esc('; '.join(states) or 'ready')}{'<br>' if fixes else ''}{fixes}</td>"
                 f"<td>{'yes' if subscribed else 'no'}</td><td>{hooks}</td></tr>")
    tokens = "".join(f"<tr><td>{esc(t['token'][:14])}…</td><td>{esc(t['kind'])}</td><td>"
                     f"{esc(t['state'])}</td><td>{esc(', '.join(t['wabas']))}</td></tr>"
                     for t in st["tokens"])
    sent = "".join(f"<tr><td>{esc(m['phone_number_id'])}</td><td>{esc(m['to'])}</td><td>"
                   f"{esc(m['body'] or m['type'])}</td></tr>" for m in st["messages"][-20:])
    scen = "".join(button("scenario", f"Default: {label}", scenario=k)
                   for k, (label, _) in SCENARIOS.items())
    wabas = "".join(button("webhook", f"PARTNER_REMOVED {w}", kind="account_update",
                           event="PARTNER_REMOVED", waba_id=w) for w in st["wabas"])
    inner = (f"<h1>Meta sandbox control</h1><p class=\"muted\">App {esc(sb.app_name)} "
             f"({esc(sb.app_id)}); webhooks go to {esc(sb.webhook_url or '(no --webhook-url)')}"
             f"; dialog scenario {esc(st['config']['scenario'])}</p>"
             + (f"<p class=\"flash\">{esc(flash)}</p>" if flash else "")
             + f"<h2>Phone numbers</h2><table><tr><th>Number</th><th>WABA</th><th>Registered"
             f"</th><th>State</th><th>Subscribed</th><th>Send webhook</th></tr>{rows}</table>"
             f"<h2>Account</h2>{wabas}<h2>Tokens</h2><p>{button('revoke_all', 'Revoke all tokens')}"
             f"{button('expire_all', 'Expire all tokens')}{button('reset', 'Reset everything')}"
             f"</p><table><tr><th>Token</th><th>Kind</th><th>State</th><th>WABAs</th></tr>"
             f"{tokens}</table><h2>Dialog scenario</h2><p>{scen}</p><h2>Messages sent</h2>"
             f"<table><tr><th>From</th><th>To</th><th>Text</th></tr>{sent}</table>")
    return page("Meta sandbox control", inner, wide=True)


# --- HTTP ----------------------------------------------------------------------

class Req:
    """One parsed request: method, path, merged params, token and proof.

    Like Graph, the access token may come as the access_token parameter
    (query or form/JSON body) or in an "Authorization: Bearer|OAuth" header;
    token_via records which ("query", "body", "header", or None), so tests
    can assert that no token travelled in a URL.  appsecret_proof is checked
    against whichever token was used."""

    def __init__(self, method, path, query, body_params, headers):
        self.method, self.path, self.query = method, path, query
        self.params = {**query, **body_params}
        auth = headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        token, self.token_via = self.params.get("access_token"), None
        if token:
            self.token_via = "body" if "access_token" in body_params else "query"
        elif scheme.lower() in ("bearer", "oauth") and value.strip():
            token, self.token_via = value.strip(), "header"
        self.token = str(token) if token else None
        proof = self.params.get("appsecret_proof")
        self.proof = str(proof) if proof else None
        self.after = None  # work to do once the answer is sent (sync webhooks)
        self.headers, self.auth_scheme = headers, scheme or None
        self.raw, self.files = None, None  # media and upload bodies


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "meta-sandbox/1.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    # -- logging: never a token, secret, code or proof ----------------------

    def log_request(self, code="-", size="-"):
        sys.stderr.write(f"{self.log_date_time_string()} {self.client_address[0]} "
                         f"\"{self.command} {redact_target(self.path)}\" {code}\n")

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's name
        text = re.sub(r"\?[^\s'\"]*", "?[redacted]", format % args)
        sys.stderr.write(f"{self.log_date_time_string()} {text}\n")

    # -- responses ----------------------------------------------------------

    def _send(self, status, body=b"", ctype="application/json; charset=UTF-8", headers=None):
        entry = getattr(self, "_entry", None)
        if entry is not None and headers and "x-fb-trace-id" in headers:
            entry["fbtrace_id"] = headers["x-fb-trace-id"]
        sent = getattr(self, "_send_rec", None)
        if sent is not None and sent["status"] is None:
            self.server.sandbox.answered(sent, status, getattr(self, "_code", None))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, headers=None):
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def _graph_error(self, err):
        self._code = err.code
        body = err.body()
        headers = {"x-fb-trace-id": body["error"]["fbtrace_id"]}
        if err.www:
            headers["WWW-Authenticate"] = (f"OAuth \"Facebook Platform\" \"{err.www}\" "
                                           f"\"{err.message.replace(chr(34), '')}\"")
        raw = getattr(err, "raw_message", None)
        if raw is not None:
            # Bytes as they are, valid UTF-8 or not (an edge's or a
            # broken encoder's): JSON's syntax holds, its text does not.
            body["error"]["message"] = "@RAW@"
            self._send(err.status, json.dumps(body).encode().replace(b"@RAW@", raw),
                       headers=headers)
            return
        self._json(err.status, body, headers)

    def _redirect(self, status, location):
        self._send(status, b"", "text/plain", {"Location": location})

    # -- request entry ------------------------------------------------------

    def _handle(self, method):
        sb = self.server.sandbox
        try:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            raw = self._read_body()
            if raw is None:
                self.close_connection = True
                return self._json(413, {"error": {"message": "Request body too large",
                                                  "type": "OAuthException", "code": 1}})
            if parts.path == "/_sandbox" or parts.path.startswith("/_sandbox/"):
                return self._control(sb, method, parts.path, query, raw)
            if method == "GET" and re.fullmatch(r"/(?:[a-z]{2}_[A-Z]{2}/)?sdk(?:\.debug)?\.js",
                                                parts.path):
                return self._sdk(sb)
            return self._meta(sb, method, parts.path, query, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug here must not kill the sandbox; say so and go on
            traceback.print_exc(file=sys.stderr)
            self._json(500, {"error": {"message": "An unknown error occurred",
                                       "type": "OAuthException", "code": 1,
                                       "is_transient": True, "fbtrace_id": fbtrace()}})

    def _read_body(self):
        """The raw request body (Content-Length or chunked); None when over MAX_BODY."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0 or len(raw) + size > MAX_BODY:
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return raw if size == 0 else None
        length = int(self.headers.get("Content-Length") or 0)
        media = re.search(r"/(?:media|uploads)$|/upload:", urllib.parse.urlsplit(
            self.path).path) is not None
        if length > (MAX_MEDIA_BODY if media else MAX_BODY):
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _body_params(self, raw):
        if not raw:
            return {}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                raise GraphError(400, "(#100) The request body must be a JSON object", 100)
            return obj
        return dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"),
                                           keep_blank_values=True))

    def _classify(self, sb, method, path, params):
        """(endpoint name, object id) for a version-stripped Graph path."""
        segs = [s for s in path.split("/") if s]
        if segs[:2] == ["dialog", "oauth"]:
            return ("dialog" if len(segs) == 2 else
                    "dialog_decide" if segs[2:] == ["decide"] else "unknown"), None
        if segs == ["oauth", "access_token"]:
            grant = params.get("grant_type")
            return ("exchange_token" if grant == "fb_exchange_token" else "access_token"), None
        if segs == ["debug_token"]:
            return "debug_token", None
        if segs[:2] == ["dialog", "embedded_signup"]:
            return ("es_dialog" if len(segs) == 2 else
                    "es_decide" if segs[2:] == ["decide"] else "unknown"), None
        if len(segs) == 2 and segs[1] in CATALOG_BATCH_ENDPOINTS:
            return segs[1], segs[0]
        media = self.media_classify(sb, method, path, segs)
        if media is not None:
            return media
        if len(segs) == 2 and segs[1] == "message_templates":
            return {"POST": "create_template", "DELETE": "delete_template"}.get(
                method, "message_templates"), segs[0]
        if len(segs) == 2 and segs[1] in ("phone_numbers", "register", "subscribed_apps",
                                          "messages", "deregister", "request_code",
                                          "verify_code", "smb_app_data"):
            return segs[1], segs[0]
        if len(segs) == 1:
            node = segs[0]
            with sb.lock:
                kind = ("set_pin" if node in sb.state["numbers"] and method == "POST" else
                        "phone" if node in sb.state["numbers"] else
                        "waba" if node in sb.state["wabas"] else
                        "catalog" if node in sb.state["catalogs"] else
                        "me" if node == "me" else "object")
            return kind, node
        return "unknown", None

    @staticmethod
    def media_classify(sb, method, path, segs):
        """The media endpoints: an upload session's id may hold '/' (base64)."""
        if path.startswith("/upload:"):
            return ("upload_status" if method == "GET" else "upload_data"), path[1:]
        if len(segs) == 2 and segs[1] == "media":
            return "media", segs[0]
        if len(segs) == 2 and segs[1] == "uploads":
            return "uploads", segs[0]
        if len(segs) == 1:
            with sb.lock:
                if segs[0] in sb.state.get("media", {}):
                    return "media_object", segs[0]
        return None

    def media_body(self, path, raw, req_holder):
        """Bodies that are not parameters: the upload's bytes, multipart media."""
        ctype = self.headers.get("Content-Type") or ""
        if path.startswith("/upload:"):
            req_holder["raw"] = raw
            return {}
        if ctype.split(";")[0].strip().lower() == "multipart/form-data":
            fields, files = Sandbox.media_multipart(ctype, raw)
            req_holder["files"] = files
            return fields
        return None

    def _meta(self, sb, method, path, query, raw):
        m = re.match(r"^/v\d+\.\d+(?=/|$)", path)
        prefix = m.group(0) if m else ""
        path = path[len(prefix):] or "/"
        holder = {}
        try:
            body_params = self.media_body(path, raw, holder)
            if body_params is None:
                body_params = self._body_params(raw)
        except GraphError as err:
            return self._graph_error(err)
        req = Req(method, path, query, body_params, self.headers)
        req.raw, req.files = holder.get("raw"), holder.get("files")
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        scheme = "https" if self.server.tls else "http"
        req.url = f"{scheme}://{host}{prefix}{path}"
        endpoint, node = self._classify(sb, method, path, req.params)
        self._entry = {"time": time.time(), "endpoint": endpoint, "method": method,
                       "path": prefix + path, "version": prefix.lstrip("/") or None,
                       "query": query, "body": body_params or None,
                       "access_token": req.token, "appsecret_proof": req.proof,
                       "authorization": self.headers.get("Authorization"),
                       "token_via": req.token_via, "scheme": scheme}
        if endpoint in MEDIA_INJECT_ENDPOINTS:
            self._entry.update(self.media_record(req))
        sb.record_request(self._entry)
        self._send_rec = self._code = None  # a keep-alive connection's previous request's
        if endpoint == "messages" and method == "POST":
            self._send_rec = sb.record_send(self._entry)
        if endpoint in ("dialog", "dialog_decide"):
            return self._dialog(sb, endpoint, prefix, req)
        if endpoint in ("es_dialog", "es_decide"):
            return self._es_dialog(sb, endpoint, prefix, req)
        rule = sb.take_inject(endpoint, body_params, method)
        edge = None
        if rule and rule["error"] == "timeout":
            sb.pause(rule["delay"])  # then answer normally, late
        elif rule and rule["error"] == "drop":
            edge = rule  # acted on below, then the connection closes unanswered
        elif rule and rule["error"] in ("html", "partial"):
            edge = rule  # acted on below, then lost behind the edge's page
            req.partial = rule["error"] == "partial"  # and only half of it
        elif rule and rule["error"] == "badjson":
            return self._badjson(endpoint, rule)
        elif rule:
            return self._graph_error(sb.injected_error(endpoint, rule))
        extra = {"facebook-api-version": prefix.lstrip("/") or "v25.0",
                 "x-fb-trace-id": fbtrace()}
        try:
            if endpoint == "unknown":
                raise GraphError(400, f"Unknown path components: {path}", 2500)
            if endpoint in ("access_token", "exchange_token"):
                answer = sb.access_token(req.params)
            elif endpoint == "debug_token":
                answer = sb.debug_token(req)
            else:
                answer = sb.graph(req, endpoint, node)
        except GraphError as err:
            if edge is None:
                if self._send_rec is not None:
                    sb.send_delay()
                return self._graph_error(err)
        if edge is not None and edge["error"] == "drop":
            # Not a byte of answer: a client that reused this connection
            # cannot tell "closed while idle" from "lost after acting",
            # and curl sends a request again on a fresh connection then.
            self._after(sb, req)
            self.close_connection = True
            return
        if edge is not None:
            self._after(sb, req)
            return self._edge_error(edge)
        if self._send_rec is not None:
            sb.send_delay()
        self._json(200, answer, extra)
        self._after(sb, req)

    def media_record(self, req):
        """What a media call carried, for the tests: sizes and hashes, not bytes."""
        out = {"content_type": self.headers.get("Content-Type"),
               "file_offset_header": self.headers.get("file_offset")}
        if req.raw is not None:
            out["raw_size"] = len(req.raw)
            out["raw_sha256"] = hashlib.sha256(req.raw).hexdigest()
        if req.files:
            out["files"] = {k: {"filename": f["filename"], "type": f["type"],
                                "size": len(f["data"]),
                                "sha256": hashlib.sha256(f["data"]).hexdigest()}
                            for k, f in req.files.items()}
        return out

    @staticmethod
    def _after(sb, req):
        """Meta's asynchronous consequences of a call: after smb_app_data, the
        sync webhooks, from another thread (never the lock's, never before the
        answer), so an app that handles webhooks in the same pool is not
        waiting on itself."""
        if req.after and req.after[0] == "smb_sync":
            sb.sync_webhooks_later(*req.after[1:])

    def _edge_error(self, rule):
        """What Meta's edge proxy sends when the backend was slow: a bare 5xx
        with an HTML page, no Graph error object, after the call was done."""
        status = rule.get("http_status") or 504
        trace = {"x-fb-trace-id": rule.get("fbtrace_id") or fbtrace()}
        body = (f"<html><head><title>{status} Gateway Time-out</title></head><body>"
                f"<h1>{status} Gateway Time-out</h1><p>The server didn't respond in "
                "time.</p></body></html>").encode()
        return self._send(status, body, "text/html; charset=utf-8", trace)

    def _badjson(self, endpoint, rule):
        # Meta's edge sends the trace header even when the body is not Graph JSON.
        trace = {"x-fb-trace-id": rule.get("fbtrace_id") or fbtrace()}
        if rule["variant"] == "html":
            return self._send(200, b"<html><body>Sorry, something went wrong.</body></html>",
                              "text/html; charset=utf-8", trace)
        if rule["variant"] == "wrongtype":
            wrong = {"access_token": {"access_token": 12345, "token_type": None,
                                      "expires_in": "soon"},
                     "debug_token": {"data": {"is_valid": "yes", "expires_at": "never",
                                              "scopes": "all", "granular_scopes": {}}},
                     "phone_numbers": {"data": {"id": 106540352242922}, "paging": []},
                     "messages": {"messaging_product": "whatsapp", "messages": "wamid.x",
                                  "contacts": {}}}
            obj = wrong.get(endpoint, wrong["access_token"] if endpoint == "exchange_token"
                            else {"success": "true", "id": 42, "data": "unexpected"})
            return self._json(200, obj, trace)
        return self._send(200, b'{"data": [{"id": "1065403522', "application/json; charset=UTF-8",
                          trace)

    def _dialog(self, sb, endpoint, prefix, req):
        try:
            ctx = sb.dialog_context(req.query)
        except DialogError as e:
            inner = (f"<h1>{html.escape(e.title)}</h1><p>{html.escape(e.text)}</p>"
                     "<p class=\"muted\"><a href=\"/_sandbox/\">Sandbox control page</a></p>")
            return self._send(400, page(e.title, inner), "text/html; charset=utf-8")
        decision = req.query.get("decision") if endpoint == "dialog_decide" else ctx["auto"]
        if decision not in ("continue", "cancel"):
            return self._send(200, dialog_page(sb, prefix, req.query, ctx),
                              "text/html; charset=utf-8",
                              {"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
        if decision == "cancel":
            params = {"error": "access_denied", "error_code": "200",
                      "error_description": "Permissions error", "error_reason": "user_denied"}
        else:
            params = {"code": sb.issue_code(ctx)}
        if ctx["state"] is not None:
            params["state"] = ctx["state"]
        parts = urllib.parse.urlsplit(ctx["redirect_uri"])
        extra = urllib.parse.urlencode(params)
        q = f"{parts.query}&{extra}" if parts.query else extra
        # Meta appends "#_=_" to the redirect; browsers keep it client-side.
        location = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, q, "_=_"))
        return self._redirect(302, location)

    def _es_dialog(self, sb, endpoint, prefix, req):
        """The JS SDK stand-in's popup: the dialog, then the page that posts
        the result to the opener."""
        html_headers = {"Cache-Control": "no-store"}
        try:
            ctx = sb.es_context(req.query)
            if endpoint == "es_dialog" or req.query.get("outcome") == "change":
                if endpoint == "es_decide":
                    q = {k: v for k, v in req.query.items() if k != "outcome"}
                    return self._redirect(302, f"{prefix}/dialog/embedded_signup?"
                                          + urllib.parse.urlencode(q))
                return self._send(200, es_dialog_page(sb, prefix, req.query, ctx),
                                  "text/html; charset=utf-8", html_headers)
            session, login = sb.es_decide(ctx, req.query)
        except DialogError as e:
            inner = (f"<h1>{html.escape(e.title)}</h1><p>{html.escape(e.text)}</p>"
                     "<p class=\"muted\"><a href=\"/_sandbox/\">Sandbox control page</a></p>")
            return self._send(400, page(e.title, inner), "text/html; charset=utf-8")
        return self._send(200, es_result_page(ctx["origin"], session, login),
                          "text/html; charset=utf-8", html_headers)

    def _sdk(self, sb):
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        origin = f"{'https' if self.server.tls else 'http'}://{host}"
        self._entry = {"time": time.time(), "endpoint": "sdk", "method": self.command,
                       "path": urllib.parse.urlsplit(self.path).path, "version": None,
                       "query": {}, "body": None, "access_token": None,
                       "appsecret_proof": None, "authorization": None, "token_via": None,
                       "scheme": "https" if self.server.tls else "http"}
        sb.record_request(self._entry)
        body = SDK_JS.replace("__ORIGIN__", json.dumps(origin)).encode()
        return self._send(200, body, "application/javascript; charset=utf-8",
                          {"Cache-Control": "no-store",
                           # Meta's snippet loads it with crossorigin="anonymous".
                           "Access-Control-Allow-Origin": "*",
                           "Cross-Origin-Resource-Policy": "cross-origin"})

    # -- control API ----------------------------------------------------------

    def _control(self, sb, method, path, query, raw):
        if self.client_address[0] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            return self._json(403, {"error": "the control API answers loopback clients only"})
        try:
            if path.startswith("/_sandbox/ui/") and method == "POST":
                return self._ui(sb, path[len("/_sandbox/ui/"):], raw)
            if path in ("/_sandbox", "/_sandbox/") and method == "GET":
                return self._send(200, control_page(sb, query.get("msg")),
                                  "text/html; charset=utf-8", {"Cache-Control": "no-store"})
            body = {}
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise ControlError(400, "body must be JSON") from None
                if not isinstance(body, dict):
                    raise ControlError(400, "body must be a JSON object")
            routes = {
                ("POST", "/_sandbox/reset"): lambda: (sb.reset(), {"ok": True})[1],
                ("GET", "/_sandbox/state"): sb.snapshot,
                ("GET", "/_sandbox/config"): lambda: sb.snapshot()["config"],
                ("POST", "/_sandbox/config"): lambda: sb.set_config(body),
                ("POST", "/_sandbox/tokens/revoke"): lambda: sb.revoke(body),
                ("POST", "/_sandbox/tokens/expire"): lambda: sb.expire(body),
                ("POST", "/_sandbox/tokens/unshare"): lambda: sb.unshare(body),
                ("POST", "/_sandbox/inject"): lambda: sb.add_inject(body),
                ("POST", "/_sandbox/inject/clear"): sb.clear_injects,
                ("GET", "/_sandbox/requests"):
                    lambda: {"requests": sb.list_requests(query.get("endpoint"))},
                ("GET", "/_sandbox/sends"): lambda: {"sends": sb.list_sends()},
                ("POST", "/_sandbox/sends/clear"): sb.clear_sends,
                ("GET", "/_sandbox/limits"): sb.get_limits,
                ("POST", "/_sandbox/limits"): lambda: sb.set_limits(body),
                ("POST", "/_sandbox/requests/clear"):
                    lambda: (sb.clear_requests(), {"ok": True})[1],
                ("POST", "/_sandbox/catalogs"): lambda: sb.create_catalog(body),
                ("POST", "/_sandbox/senders"): lambda: sb.add_sender(body),
                ("POST", "/_sandbox/subscribe"): lambda: sb.set_subscription(body, True),
                ("POST", "/_sandbox/unsubscribe"): lambda: sb.set_subscription(body, False),
                ("POST", "/_sandbox/webhook"): lambda: sb.send_webhooks(body),
                ("POST", "/_sandbox/numbers/update"): lambda: sb.update_number(body),
                ("POST", "/_sandbox/templates/status"): lambda: sb.template_status(body),
                ("POST", "/_sandbox/templates/clear"): sb.clear_templates,
                ("POST", "/_sandbox/numbers/health"): lambda: sb.set_health(body),
                ("POST", "/_sandbox/app/webhook"): lambda: sb.set_app_webhook(body),
                ("POST", "/_sandbox/tokens/expires"): lambda: sb.set_expiry(body),
            }
            route = routes.get((method, path.rstrip("/")))
            if route is None:
                raise ControlError(404, f"no control route {method} {path}")
            return self._json(200, route())
        except ControlError as e:
            return self._json(e.status, {"error": str(e)})

    def _ui(self, sb, action, raw):
        """The HTML control page's forms: act, then 303 back with a note."""
        form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
        try:
            if action == "webhook":
                out = sb.send_webhooks(form)
                note = f"Sent {out['sent']} webhook(s) to {out['url']}: {out['responses']}"
                if out.get("not_delivered"):
                    note = f"Not sent: {out['not_delivered']}"
                if out.get("errors"):
                    note += f" ({'; '.join(out['errors'])})"
            elif action == "revoke_all":
                note = f"Revoked {sb.revoke({'all': True})['revoked']} token(s) (subcode 460)"
            elif action == "expire_all":
                note = f"Expired {sb.expire({'all': True})['expired']} token(s)"
            elif action == "reset":
                sb.reset()
                note = "Reset to the initial fixture"
            elif action == "scenario":
                sb.set_config({"scenario": form.get("scenario")})
                note = f"Dialog scenario is now {form.get('scenario')}"
            elif action == "number":
                change = {"approve_name": {"name_status": "APPROVED"},
                          "free": {"in_use_elsewhere": False}}.get(form.get("change"))
                if change is None:
                    raise ControlError(400, "change must be approve_name or free")
                sb.update_number(dict(change, phone_number_id=form.get("phone_number_id")))
                note = f"Number {form.get('phone_number_id')}: {form.get('change')}"
            else:
                raise ControlError(404, f"unknown action {action}")
        except ControlError as e:
            note = f"Error: {e}"
        return self._redirect(303, "/_sandbox/?" + urllib.parse.urlencode({"msg": note}))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A thread per connection answers sends concurrently; the backlog is
    # a sender's (issue 13): hundreds of connections opened at once must
    # not be dropped and retried a second later.
    request_queue_size = 1024
    tls = None  # an ssl.SSLContext when serving https

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls is not None:
            # The handshake runs in the request's thread (on first read),
            # so a client that stalls or refuses our certificate holds up
            # nobody else.
            sock = self.tls.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (ssl.SSLError, ConnectionError, TimeoutError)):
            # A client that refused our certificate (the app without our
            # CA, or checking another host name) is expected in tests: one
            # line, not a traceback.
            sys.stderr.write(f"{client_address[0]} TLS/connection error: "
                             f"{type(err).__name__}: {err}\n")
            return
        super().handle_error(request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


def main(argv=None):
    ap = argparse.ArgumentParser(description="Meta (Graph API + OAuth dialog) sandbox")
    ap.add_argument("--listen", required=True, help="HOST:PORT (port 0 picks a free one)")
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--app-secret-file", required=True)
    ap.add_argument("--app-name", required=True)
    ap.add_argument("--webhook-url")
    ap.add_argument("--state-file")
    ap.add_argument("--tls-cert", help="PEM certificate (chain): serve https")
    ap.add_argument("--tls-key", help="PEM private key of --tls-cert")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit():
        ap.error("--listen must be HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    try:
        with open(args.app_secret_file, encoding="utf-8") as f:
            secret = f.read().strip()
    except OSError as e:
        ap.error(f"--app-secret-file: {e.strerror}")
    if not secret:
        ap.error("--app-secret-file is empty")

    sandbox = Sandbox(args.app_id, secret, args.app_name, args.webhook_url, args.state_file)
    server = (Server6 if ":" in host else Server)((host, int(port)), Handler)
    server.sandbox = sandbox
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as e:
            ap.error(f"--tls-cert/--tls-key: {e}")
        server.tls = ctx
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if server.tls else "http"
    print(f"meta-sandbox listening on {scheme}://{shown}:{server.server_address[1]}",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
