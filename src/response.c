/*
 * response: the one way an answer leaves the process. Collecting status,
 * headers and body first and sending them in one go is what lets every
 * answer carry the security headers and lets a header that could split
 * the response be refused before anything is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "buf.h"
#include "response.h"

static char resp_form_origins[512] = "";
static char resp_sdk_sources[1200] = "";

void
resp_set_form_origins(const char *origins)
{
	snprintf(resp_form_origins, sizeof(resp_form_origins), "%s", origins);
}

void
resp_set_sdk_origins(const char *sdk_origin, const char *frame_origins)
{
	/* Our own script is a file under static/ ('self'); the state it
	   asks for before the popup posts back is 'self' too. */
	snprintf(resp_sdk_sources, sizeof(resp_sdk_sources),
	    "; script-src 'self' %s; connect-src 'self' %s; frame-src %s%s%s",
	    sdk_origin, sdk_origin, sdk_origin, *frame_origins ? " " : "",
	    frame_origins);
}

void
resp_init(struct resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	snprintf(r->ctype, sizeof(r->ctype), "text/html; charset=utf-8");
}

void
resp_free(struct resp *r)
{
	buf_free(&r->headers);
	buf_free(&r->body);
}

void
resp_reset(struct resp *r)
{
	resp_free(r);
	resp_init(r);
}

const char *
resp_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

int
resp_header(struct resp *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -1;
	return buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

int
resp_text(struct resp *r, int status, const char *text)
{
	r->status = status;
	snprintf(r->ctype, sizeof(r->ctype), "text/plain; charset=utf-8");
	buf_reset(&r->body);
	return buf_puts(&r->body, text);
}

int
resp_redirect(struct resp *r, int status, const char *location)
{
	r->status = status;
	buf_reset(&r->body);
	return resp_header(r, "Location", location);
}

/*
 * The security headers go on every answer, error pages and redirects
 * included: no inline script anywhere (CSP; a script file only on the
 * one page that asks for the SDK, allow_sdk), never framed, no Referer
 * leaking OAuth codes or workspace paths, and nothing cached, since every
 * page is per-user.
 */
int
resp_send(struct resp *r, FCGX_Stream *out, int head_only)
{
	struct buf h = BUF_INIT;
	int        rc = -1;

	/* libfcgi's own printf knows no %zu: format here, write once. */
	if (buf_printf(&h,
	        "Status: %d %s\r\n"
	        "Content-Type: %s\r\n"
	        "Content-Length: %zu\r\n"
	        "Content-Security-Policy: default-src 'none'; style-src 'self'; "
	        "img-src 'self'; form-action 'self'%s%s%s; frame-ancestors 'none'; "
	        "base-uri 'none'\r\n"
	        "X-Frame-Options: DENY\r\n"
	        "X-Content-Type-Options: nosniff\r\n"
	        "Referrer-Policy: no-referrer\r\n"
	        "Cache-Control: no-store\r\n",
	        r->status, resp_reason(r->status), r->ctype, r->body.len,
	        *resp_form_origins ? " " : "", resp_form_origins,
	        r->allow_sdk ? resp_sdk_sources : "") == -1 ||
	    buf_append(&h, r->headers.data, r->headers.len) == -1 ||
	    buf_puts(&h, "\r\n") == -1)
		goto out;
	if (FCGX_PutStr(h.data, (int)h.len, out) < 0)
		goto out;
	if (!head_only && r->body.len &&
	    FCGX_PutStr(r->body.data, (int)r->body.len, out) < 0)
		goto out;
	rc = 0;
out:
	buf_free(&h);
	return rc;
}
