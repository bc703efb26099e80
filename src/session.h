/*
 * session: who is signed in, from the session cookie, and the CSRF
 * tokens that go with forms. The cookie carries 256 random bits; the
 * database only their SHA-256. Sign-in gets a fresh id (no fixation).
 * The sign-in form itself, before any session exists, is protected by a
 * double-submit token (a cookie and a hidden field that must match).
 */
#ifndef WABA_SESSION_H
#define WABA_SESSION_H

#include <stdint.h>

#include "store/sql.h"

struct ctx;

/* Loads c->sess from the cookie: STORE_OK, STORE_NOTFOUND, STORE_GONE... */
enum store_rc session_load(struct ctx *);
/*
 * session_load and, in the same statement (store_sess_gate), c->ws when
 * slug is not NULL and the user is a member of that workspace (*member
 * 1; else 0).
 */
enum store_rc session_gate(struct ctx *, const char *slug, int *member);
/* Starts a new session for user (ending the old one) and sets the cookie. */
enum store_rc session_start(struct ctx *, uint64_t user);
/* Ends the current session server-side and clears the cookie. */
enum store_rc session_end(struct ctx *);
/* 1 when token is the session's CSRF token (constant-time). */
int session_csrf_ok(const struct ctx *, const char *token);
/* The sign-in form's token: reuses a valid cookie or sets a new one. */
int session_login_token(struct ctx *, char out[65]);
int session_login_token_ok(const struct ctx *, const char *token);
/*
 * The device cookie (see session.c): 1 when the browser's cookie proves it
 * signed in to email before, with its nonce in device (16 bytes).
 */
int session_device_check(struct ctx *, const char *email,
    unsigned char device[16]);
/* Sets a new device cookie for email (after a successful sign-in). */
int session_device_issue(struct ctx *, const char *email);

#endif
