/*
 * log: every log line the programs write, in one format, on stderr.
 * Messages may quote what a client or Meta sent, so all of it is escaped
 * here: one event is one line, and input cannot forge lines or hide text
 * from the operator's terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

static const char    *log_prog = "waba-connect";
static enum log_level log_lvl = LOG_LVL_INFO;
static int            log_json;
static char           log_rid[65];

void
log_set_format(int json)
{
	log_json = json;
}

void
log_set_request_id(const char *id)
{
	snprintf(log_rid, sizeof(log_rid), "%s", id ? id : "");
}

const char *
log_request_id(void)
{
	return log_rid;
}

int
log_request_id_valid(const char *id)
{
	size_t n;

	if (id == NULL || (n = strlen(id)) == 0 || n > 64)
		return 0;
	return strspn(id,
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	           "0123456789._:-") == n;
}

void
log_request_id_make(char out[33])
{
	unsigned char rnd[16];

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(out, 33, rnd, sizeof(rnd));
}

size_t
log_json_str(char *dst, size_t dstlen, const char *src)
{
	static const char    hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t               n = 0, need;

	if (dstlen == 0)
		return 0;
	for (p = (const unsigned char *)src; *p; p++) {
		need = (*p == '"' || *p == '\\') ? 2 : *p < 0x20 ? 6 : 1;
		if (dstlen - n < need + 1)
			break;
		if (need == 2) {
			dst[n++] = '\\';
			dst[n++] = (char)*p;
		} else if (need == 6) {
			memcpy(dst + n, "\\u00", 4);
			n += 4;
			dst[n++] = hex[*p >> 4];
			dst[n++] = hex[*p & 0xf];
		} else
			dst[n++] = (char)*p;
	}
	dst[n] = '\0';
	return n;
}

void
log_init(const char *progname, enum log_level lvl)
{
	log_prog = progname;
	log_lvl = lvl;
}

void
log_set_level(enum log_level lvl)
{
	log_lvl = lvl;
}

size_t
log_escape(char *dst, size_t dstlen, const char *src)
{
	static const char    hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t               n = 0;

	if (dstlen == 0)
		return 0;
	for (p = (const unsigned char *)src; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			if (dstlen - n < 2)
				break;
			dst[n++] = (char)*p;
			continue;
		}
		/* An escape is written whole or not at all. */
		if (dstlen - n < 5)
			break;
		dst[n++] = '\\';
		dst[n++] = 'x';
		dst[n++] = hex[*p >> 4];
		dst[n++] = hex[*p & 0xf];
	}
	dst[n] = '\0';
	return n;
}

/*
 * A message may quote a path or a value Meta sent us: see log_escape().
 * One event is always one line, and nobody can forge log lines or hide
 * text from the operator's terminal through input.
 */
static void
log_emit(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char               msg[2048], esc[sizeof(msg) * 4], ts[32];
	struct timespec    now;
	struct tm          tm;

	if (lvl > log_lvl)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_escape(esc, sizeof(esc), msg);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_json) {
		/* esc is printable ASCII: only " and \ need more. */
		static char js[sizeof(esc) * 2];

		log_json_str(js, sizeof(js), esc);
		fprintf(stderr,
		    "{\"ts\":\"%s.%03ldZ\",\"prog\":\"%s\",\"pid\":%ld,"
		    "\"level\":\"%s\"%s%s%s,\"msg\":\"%s\"}\n",
		    ts, now.tv_nsec / 1000000, log_prog, (long)getpid(),
		    names[lvl], log_rid[0] ? ",\"request_id\":\"" : "", log_rid,
		    log_rid[0] ? "\"" : "", js);
	} else if (log_rid[0])
		/* Last, so what reads the line by its start reads it as
		   before. */
		fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s request_id=%s\n", ts,
		    now.tv_nsec / 1000000, log_prog, (long)getpid(), names[lvl],
		    esc, log_rid);
	else
		fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s\n", ts,
		    now.tv_nsec / 1000000, log_prog, (long)getpid(), names[lvl],
		    esc);
	fflush(stderr);
}

#define LOG_FN(name, lvl) \
	void name(const char *fmt, ...) \
	{ \
		va_list ap; \
\
		va_start(ap, fmt); \
		log_emit(lvl, fmt, ap); \
		va_end(ap); \
	}
LOG_FN(log_err, LOG_LVL_ERROR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

void
log_request(const char *method, const char *path, int status,
    long long duration_us)
{
	log_info("%s %s %d %lldus", method, path, status, duration_us);
}
