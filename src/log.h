/*
 * log: one line per event on stderr (the web server's error log in spawned
 * mode, the journal under systemd). Functions take format strings and
 * plain values; by design no function here takes a token or a secret, and
 * callers log ids and error codes, never request bodies.
 */
#ifndef WABA_LOG_H
#define WABA_LOG_H

#include "config.h"

void	log_init(const char *progname, enum log_level);
void	log_set_level(enum log_level);
void	log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* The access line: method, path without query string, status, µs. */
void	log_request(const char *method, const char *path, int status,
	    long long duration_us);

#endif
