/*
 * buf: a growable byte buffer used everywhere instead of ad-hoc char[]
 * juggling (the redis sds habit, much smaller). The data is always
 * NUL-terminated so it can be handed to C string functions, but may also
 * contain NULs; len is authoritative.
 */
#ifndef WABA_BUF_H
#define WABA_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char  *data; /* NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};

#define BUF_INIT \
	{ \
		NULL, 0, 0 \
	}

void buf_init(struct buf *);
/* All appenders return 0, or -1 on allocation failure (buffer unchanged). */
int buf_append(struct buf *, const void *, size_t);
/*
 * Makes room for n more bytes at once, so appending up to n bytes never
 * moves the data: for secrets, whose old copies a realloc would leave
 * in freed memory. Call it on an empty buf.
 */
int buf_reserve(struct buf *, size_t n);
int buf_puts(struct buf *, const char *);
int buf_putc(struct buf *, char);
int buf_printf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *, const char *, va_list);
/* Returns a string that is always valid ("" when empty); owned by the buf. */
const char *buf_str(const struct buf *);
void        buf_reset(struct buf *); /* len = 0, keeps memory */
void        buf_free(struct buf *);
/* Wipes the contents (sodium_memzero) before freeing: for secrets. */
void buf_free_secret(struct buf *);
/* Hands the data to the caller (free() it); the buf is left empty. */
char *buf_detach(struct buf *);

#endif
