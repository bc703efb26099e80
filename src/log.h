/*
 * log: one line per event on stderr (the web server's error log in spawned
 * mode, the journal under systemd). Functions take format strings and
 * plain values; by design no function here takes a token or a secret, and
 * callers log ids and error codes, never request bodies.
 */
#ifndef WABA_LOG_H
#define WABA_LOG_H

#include <stddef.h>

#include "config.h"

void log_init(const char *progname, enum log_level);
void log_set_level(enum log_level);
void log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/*
 * What every line goes through: each byte that is not printable ASCII
 * (C0 and C1 controls, DEL, and every byte of a non-ASCII character, so
 * bidi overrides such as U+202E too) and the backslash itself become
 * \xNN, so the line is ASCII and can be read back unambiguously. Writes
 * at most dstlen bytes with the NUL, never half an escape; returns the
 * length written.
 */
size_t log_escape(char *dst, size_t dstlen, const char *src);
/*
 * [server] log_format: 0 text (the default), 1 json: one object a line,
 * {"ts","prog","pid","level","request_id" (when one is set),"msg"}; the
 * message escaped as in text (log_escape), then for JSON (log_json_str).
 */
void log_set_format(int json);
/*
 * The request this process serves now: every line logged until it is
 * cleared (NULL) carries the id, the Graph calls' lines too. id must be
 * log_request_id_valid or made by log_request_id_make.
 */
void        log_set_request_id(const char *id);
const char *log_request_id(void); /* "" when none */
/* 1..64 of A-Z a-z 0-9 . _ : - : what an X-Request-Id may be. */
int log_request_id_valid(const char *id);
/* A new id, 32 hex digits (128 random bits), into out[33]. */
void log_request_id_make(char out[33]);
/*
 * src as the contents of a JSON string (no quotes): " and \ escaped,
 * control bytes as \u00XX; other bytes as they are (callers pass
 * log_escape's ASCII). At most dstlen bytes with the NUL, never half an
 * escape; returns the length written.
 */
size_t log_json_str(char *dst, size_t dstlen, const char *src);
/* The access line: method, path without query string, status, µs. */
void log_request(const char *method, const char *path, int status,
    long long duration_us);

#endif
