/*
 * request: the edge. Everything the web server hands us (parameters,
 * query string, cookies, body) is decoded and checked here once, strictly,
 * into struct req, so nothing downstream sees bytes it would have to
 * re-check. A refusal names its cause (enum req_err); app.c picks the page.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "buf.h"
#include "clock.h"
#include "request.h"

/*
 * UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing
 * above U+10FFFF. Also refuses NUL and C0 controls other than tab, CR and
 * LF, which no form field of ours has a use for.
 */
int
req_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + len;
	unsigned int         cp;
	int                  n, i;

	while (p < e) {
		if (*p < 0x80) {
			if ((*p < 0x20 && *p != '\t' && *p != '\r' &&
			        *p != '\n') ||
			    *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			cp = *p & 0x07;
		} else
			return 0;
		if (e - p <= n)
			return 0;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

static int
req_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
req_percent_decode(const char *s, size_t len, int plus, struct buf *out)
{
	size_t i;
	int    hi, lo;
	char   c;

	/*
	 * The decoded text is never longer than the encoded one: room for
	 * all of it is made once, so a password being decoded is never
	 * moved by a realloc that would leave a copy in freed memory.
	 */
	if (out->cap < len + 1)
		buf_free_secret(out);
	buf_reset(out);
	if (buf_reserve(out, len) == -1 || buf_append(out, "", 0) == -1)
		return -1;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			hi = req_hexval((unsigned char)s[i + 1]);
			lo = req_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		else if (c == '\0')
			return -1;
		if (buf_putc(out, c) == -1)
			return -1;
	}
	if (memchr(out->data, '\0', out->len) != NULL ||
	    !req_utf8_valid(out->data, out->len))
		return -1;
	return 0;
}

const char *
kv_get(const struct kvlist *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].val;
	return NULL;
}

void
kv_free(struct kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		/* Form values may be passwords or tokens: wipe them. */
		if (l->v[i].val) {
			explicit_bzero(l->v[i].val, l->v[i].len);
			free(l->v[i].val);
		}
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
kv_add(struct kvlist *l, struct buf *k, struct buf *v)
{
	struct kv *nv;

	if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL)
		return -1;
	l->v = nv;
	nv[l->n].key = buf_detach(k);
	nv[l->n].len = v->len;
	nv[l->n].val = buf_detach(v);
	if (nv[l->n].key == NULL || nv[l->n].val == NULL) {
		free(nv[l->n].key);
		free(nv[l->n].val);
		return -1;
	}
	l->n++;
	return 0;
}

static void
req_why(char *why, size_t whylen, const char *msg, const char *key)
{
	if (key)
		snprintf(why, whylen, "%s: %.64s", msg, key);
	else
		snprintf(why, whylen, "%s", msg);
}

/*
 * application/x-www-form-urlencoded (WHATWG URL §5): pairs separated by
 * '&', '+' is a space. Empty pairs are skipped. A key given twice is an
 * error rather than first-wins or last-wins: no form of ours repeats a
 * field, and ambiguity is how parameter pollution starts.
 */
enum req_err
req_parse_urlencoded(const char *s, size_t len, struct kvlist *out, char *why,
    size_t whylen)
{
	struct buf   k = BUF_INIT, v = BUF_INIT;
	const char  *p = s, *e = s + len, *amp, *eq;
	size_t       klen;
	enum req_err err = REQ_BAD_FIELDS;

	while (p < e) {
		if ((amp = memchr(p, '&', (size_t)(e - p))) == NULL)
			amp = e;
		if (amp == p) {
			p++;
			continue;
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		klen = (size_t)((eq ? eq : amp) - p);
		if (klen == 0) {
			req_why(why, whylen, "a field has no name", NULL);
			goto fail;
		}
		if (req_percent_decode(p, klen, 1, &k) == -1) {
			err = REQ_BAD_ENCODING;
			req_why(why, whylen, "a field name is malformed", NULL);
			goto fail;
		}
		if (k.len > REQ_MAX_KEY) {
			req_why(why, whylen, "a field name is too long", NULL);
			goto fail;
		}
		if (req_percent_decode(eq ? eq + 1 : amp,
		        eq ? (size_t)(amp - eq - 1) : 0, 1, &v) == -1) {
			err = REQ_BAD_ENCODING;
			req_why(why, whylen, "malformed value for field",
			    k.data);
			goto fail;
		}
		if (kv_get(out, k.data) != NULL) {
			req_why(why, whylen, "field given twice", k.data);
			goto fail;
		}
		if (out->n >= REQ_MAX_PAIRS) {
			req_why(why, whylen, "too many fields", NULL);
			goto fail;
		}
		if (kv_add(out, &k, &v) == -1) {
			err = REQ_NOMEM;
			req_why(why, whylen, "out of memory", NULL);
			goto fail;
		}
		p = amp < e ? amp + 1 : e;
	}
	buf_free(&k);
	buf_free_secret(&v);
	return REQ_OK;
fail:
	buf_free(&k);
	buf_free_secret(&v);
	kv_free(out);
	return err;
}

/*
 * Ours are named waba_* (or __Host-waba_* over https): see session.c.
 * Anything else on the host is none of our business and is not kept.
 */
static int
req_cookie_ours(const char *name, size_t len)
{
	if (len > 7 && strncmp(name, "__Host-", 7) == 0) {
		name += 7;
		len -= 7;
	}
	return len > 5 && strncmp(name, "waba_", 5) == 0;
}

/*
 * Cookie header (RFC 6265 §5.4): "a=b; c=d". A malformed pair is skipped,
 * not fatal: other applications on the same host may set cookies we do
 * not understand, and that must not lock users out. Only our own
 * cookies are kept, however many others come first: the work is bounded
 * by the header's length (which the web server limits), never by a count
 * of pairs, so a browser full of other sites' cookies stays signed in.
 * When a name repeats, the first wins (browsers send the most specific
 * path first).
 */
void
req_parse_cookies(const char *h, struct kvlist *out)
{
	struct buf  k = BUF_INIT, v = BUF_INIT;
	const char *p = h, *semi, *eq, *ks, *ke, *vs, *ve;

	while (p && *p) {
		semi = strchr(p, ';');
		ve = semi ? semi : p + strlen(p);
		eq = memchr(p, '=', (size_t)(ve - p));
		ks = p;
		p = semi ? semi + 1 : NULL;
		if (eq == NULL)
			continue;
		while (ks < eq && *ks == ' ')
			ks++;
		ke = eq;
		while (ke > ks && ke[-1] == ' ')
			ke--;
		if (!req_cookie_ours(ks, (size_t)(ke - ks)))
			continue;
		vs = eq + 1;
		while (vs < ve && *vs == ' ')
			vs++;
		while (ve > vs && ve[-1] == ' ')
			ve--;
		if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
			vs++;
			ve--;
		}
		if (ke == ks || ke - ks > REQ_MAX_KEY || ve - vs > 4096)
			continue;
		if (strspn(ks,
		        "!#$%&'*+-.^_`|~0123456789"
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") <
		    (size_t)(ke - ks))
			continue;
		/* cookie-octet: printable ASCII except " , ; \ and space */
		{
			const char *c;
			for (c = vs; c < ve; c++)
				if (*c <= 0x20 || *c >= 0x7f || *c == '"' ||
				    *c == ',' || *c == '\\')
					break;
			if (c != ve)
				continue;
		}
		buf_reset(&k);
		if (buf_append(&k, ks, (size_t)(ke - ks)) == -1)
			break;
		if (kv_get(out, k.data) != NULL)
			continue;
		/* Sized once: a session id is never left behind by a realloc. */
		buf_free_secret(&v);
		if (buf_reserve(&v, (size_t)(ve - vs)) == -1 ||
		    buf_append(&v, vs, (size_t)(ve - vs)) == -1)
			break;
		if (kv_add(out, &k, &v) == -1)
			break;
	}
	buf_free(&k);
	buf_free_secret(&v);
}

/*
 * One IPv6 host usually holds a whole /64 (SLAAC, privacy addresses, a
 * hosting provider's allocation), so a per-address limit keyed on the
 * full address is one fresh address away. IPv4 (and IPv4-mapped IPv6)
 * stays a single address. Anything else is used as given.
 */
void
req_addr_key(const char *addr, char *out, size_t outlen)
{
	struct in6_addr a6;
	struct in_addr  a4;
	char            s[INET6_ADDRSTRLEN];

	if (outlen == 0)
		return;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		snprintf(out, outlen, "%s",
		    inet_ntop(AF_INET, &a4, s, sizeof(s)) ? s : addr);
	else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], 4);
			snprintf(out, outlen, "%s",
			    inet_ntop(AF_INET, &a4, s, sizeof(s)) ? s : addr);
			return;
		}
		memset(&a6.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a6, s, sizeof(s)) != NULL)
			snprintf(out, outlen, "%s/64", s);
		else
			snprintf(out, outlen, "%s", addr);
	} else
		snprintf(out, outlen, "%s", addr);
}

const char *
req_param(const struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgi->envp);
}

/*
 * A refused request still gets its access line, and the operator wants
 * to see what was asked: the path as sent (no query string, which may
 * carry secrets), cut short so one client can't flood the log. log.c
 * escapes control and non-ASCII bytes. Nothing but the log reads this path.
 */
static char *
req_raw_path(const char *uri, size_t len)
{
	char *p;

	if (len <= REQ_LOG_PATH)
		return strndup(uri, len);
	if ((p = malloc(REQ_LOG_PATH + 4)) == NULL)
		return NULL;
	memcpy(p, uri, REQ_LOG_PATH);
	memcpy(p + REQ_LOG_PATH, "...", 4);
	return p;
}

enum req_err
req_init(struct req *r, struct FCGX_Request *f, const char *mount, char *why,
    size_t whylen)
{
	const char        *m, *uri, *q, *cl, *ra, *ck;
	struct buf         path = BUF_INIT;
	size_t             ulen, mlen;
	char              *end;
	unsigned long long n;
	enum req_err       err;

	memset(r, 0, sizeof(*r));
	r->fcgi = f;
	r->start_us = clk_us();
	buf_init(&r->body);

	m = FCGX_GetParam("REQUEST_METHOD", f->envp);
	if (m == NULL)
		m = "";
	snprintf(r->method_str, sizeof(r->method_str), "%s", m);
	if (strcmp(m, "GET") == 0)
		r->method = REQ_GET;
	else if (strcmp(m, "HEAD") == 0)
		r->method = REQ_HEAD;
	else if (strcmp(m, "POST") == 0)
		r->method = REQ_POST;
	else if (strcmp(m, "DELETE") == 0)
		r->method = REQ_DELETE;
	else
		r->method = REQ_OTHER;
	for (end = r->method_str; *end; end++)
		if (!isupper((unsigned char)*end))
			*end = '?';

	if ((ra = FCGX_GetParam("REMOTE_ADDR", f->envp)) != NULL)
		snprintf(r->remote_addr, sizeof(r->remote_addr), "%s", ra);

	/*
	 * REQUEST_URI is what the client sent, the same under lighttpd and
	 * Apache, whatever they make of SCRIPT_NAME and PATH_INFO.
	 */
	if ((uri = FCGX_GetParam("REQUEST_URI", f->envp)) == NULL)
		uri = "/";
	q = strchr(uri, '?');
	ulen = q ? (size_t)(q - uri) : strlen(uri);
	if (ulen > REQ_MAX_PATH || (q && strlen(q + 1) > REQ_MAX_QUERY)) {
		req_why(why, whylen, "the address is too long", NULL);
		r->path = req_raw_path(uri, ulen);
		return REQ_TOO_LONG;
	}
	/*
	 * An encoded slash would turn one path segment into two after
	 * decoding (/w/acme%2Fsettings is not /w/acme/settings): refused, as
	 * Apache (AllowEncodedSlashes Off) and nginx do. The query string
	 * may carry one.
	 */
	if (memmem(uri, ulen, "%2f", 3) != NULL ||
	    memmem(uri, ulen, "%2F", 3) != NULL) {
		req_why(why, whylen, "the address has an encoded slash", NULL);
		r->path = req_raw_path(uri, ulen);
		return REQ_BAD_ENCODING;
	}
	if (req_percent_decode(uri, ulen, 0, &path) == -1) {
		buf_free(&path);
		req_why(why, whylen, "the address is malformed", NULL);
		r->path = req_raw_path(uri, ulen);
		return REQ_BAD_ENCODING;
	}
	mlen = mount ? strlen(mount) : 0;
	if (mlen > 0 && strncmp(path.data, mount, mlen) == 0 &&
	    (path.data[mlen] == '/' || path.data[mlen] == '\0'))
		r->path = strdup(path.data[mlen] ? path.data + mlen : "/");
	else
		r->path = strdup(path.data);
	buf_free(&path);
	if (r->path == NULL) {
		req_why(why, whylen, "out of memory", NULL);
		return REQ_NOMEM;
	}

	if (q &&
	    (err = req_parse_urlencoded(q + 1, strlen(q + 1), &r->query, why,
	         whylen)) != REQ_OK)
		return err;
	if ((ck = FCGX_GetParam("HTTP_COOKIE", f->envp)) != NULL)
		req_parse_cookies(ck, &r->cookies);

	if ((cl = FCGX_GetParam("CONTENT_LENGTH", f->envp)) != NULL &&
	    *cl != '\0') {
		n = strtoull(cl, &end, 10);
		if (*end != '\0' || !isdigit((unsigned char)*cl)) {
			req_why(why, whylen, "bad Content-Length", NULL);
			return REQ_BAD_LENGTH;
		}
		r->content_length = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	}
	return REQ_OK;
}

enum req_err
req_read_body(struct req *r, size_t max, int parse_form, char *why,
    size_t whylen)
{
	const char *ct;
	char        chunk[8192];
	int         n;
	size_t      want;

	if (r->content_length > max) {
		req_why(why, whylen, "the request body is too large", NULL);
		return REQ_TOO_LARGE;
	}
	want = r->content_length;
	/*
	 * Room for the whole body at once (it is at most max): a form's
	 * password is never moved by a growing buffer.
	 */
	if (buf_reserve(&r->body, want) == -1)
		goto nomem;
	while (want > 0) {
		n = FCGX_GetStr(chunk,
		    want < sizeof(chunk) ? (int)want : (int)sizeof(chunk),
		    r->fcgi->in);
		if (n <= 0)
			break;
		if (buf_append(&r->body, chunk, (size_t)n) == -1) {
			explicit_bzero(chunk, sizeof(chunk));
			goto nomem;
		}
		want -= (size_t)n;
	}
	explicit_bzero(chunk, sizeof(chunk));
	if (want > 0) {
		req_why(why, whylen, "the request body was cut short", NULL);
		return REQ_CUT_SHORT;
	}
	/*
	 * And the stream's end, the web server's empty FCGI_STDIN record,
	 * sent with the body's last bytes (or the parameters): once it is
	 * read the web server sends nothing more, and the pool may close
	 * the connection without lingering (pool_close_plain). A byte
	 * instead is past Content-Length: ignored, as before, and the
	 * close lingers. Only with a Content-Length, or for a method
	 * without a body: a body of unknown length (chunked, passed on as
	 * it comes) would hold the worker here for the client's pace.
	 */
	if (FCGX_GetParam("CONTENT_LENGTH", r->fcgi->envp) != NULL ||
	    r->method == REQ_GET || r->method == REQ_HEAD)
		(void)FCGX_GetChar(r->fcgi->in);
	if (!parse_form || r->body.len == 0)
		return REQ_OK;
	ct = FCGX_GetParam("CONTENT_TYPE", r->fcgi->envp);
	if (ct == NULL ||
	    strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		req_why(why, whylen,
		    "expected a form "
		    "(application/x-www-form-urlencoded)",
		    NULL);
		return REQ_NOT_FORM;
	}
	return req_parse_urlencoded(r->body.data, r->body.len, &r->form, why,
	    whylen);
nomem:
	req_why(why, whylen, "out of memory", NULL);
	return REQ_NOMEM;
}

void
req_free(struct req *r)
{
	free(r->path);
	kv_free(&r->query);
	kv_free(&r->form);
	kv_free(&r->cookies);
	buf_free_secret(&r->body);
	r->path = NULL;
}
