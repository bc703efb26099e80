/*
 * response: status, headers and body of one answer, sent in one go with
 * the security headers of doc/contract.md, Routes always present. Header
 * values are refused when they contain CR or LF, so no input can split a
 * response.
 */
#ifndef WABA_RESPONSE_H
#define WABA_RESPONSE_H

#include "buf.h"

struct FCGX_Stream;

struct resp {
	int        status;
	char       ctype[64];
	struct buf headers; /* "Name: value\r\n" lines */
	struct buf body;
	/* This page loads Meta's JS SDK (resp_set_sdk_origins). */
	int allow_sdk;
};

/* Origins a form may post to / be redirected to (CSP form-action). */
void resp_set_form_origins(const char *);
/*
 * What a page that loads Meta's JS SDK may also reach: the SDK's origin
 * for its script, its requests and its frames, and frame_origins (the
 * dialog's, whose helper frames the SDK opens) for frames. Only answers
 * with allow_sdk set carry them; every other answer keeps
 * default-src 'none' with no script at all.
 */
void resp_set_sdk_origins(const char *sdk_origin, const char *frame_origins);
void resp_init(struct resp *);
void resp_free(struct resp *);
/* Forgets headers and body: a handler's half-built page gives way to an error page. */
void resp_reset(struct resp *);
int  resp_header(struct resp *, const char *name, const char *value);
int  resp_text(struct resp *, int status, const char *text);
/* 303 See Other (post/redirect/get) or 302 for GET flows. */
int         resp_redirect(struct resp *, int status, const char *location);
int         resp_send(struct resp *, struct FCGX_Stream *, int head_only);
const char *resp_reason(int status);

#endif
