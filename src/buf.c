/*
 * buf: the one growable buffer, so that no module juggles char[] and
 * lengths by hand. Growth is checked for overflow and fails without
 * touching the data; secrets get buf_reserve (no realloc copies) and
 * buf_free_secret (wiped before free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Makes room for at least `more` bytes plus the terminating NUL. */
static int
buf_grow(struct buf *b, size_t more)
{
	size_t need, ncap;
	char  *p;

	if (more > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if ((p = realloc(b->data, ncap)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	return buf_grow(b, n);
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int     n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || buf_grow(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int     rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_free_secret(struct buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->cap);
	buf_free(b);
}

char *
buf_detach(struct buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = strdup("");
	buf_init(b);
	return p;
}
