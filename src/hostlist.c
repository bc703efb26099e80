/*
 * hl_*: the "host[:port], host[:port]" lists of [database] host and of a
 * workspace's --db-host, parsed in one place for the config check, the
 * admin tool and the connection code (db.c), so that what is accepted is
 * what is connected to.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"

int
hl_parse(const char *list, unsigned int default_port, struct hl_host *out,
    size_t max, char *err, size_t errlen)
{
	const char *p = list, *e, *h, *he, *colon;
	size_t      n = 0, len;
	char       *end;
	long        port;

	if (max > HL_MAX)
		max = HL_MAX;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strcspn(p, ",");
		len = (size_t)(e - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			snprintf(err, errlen,
			    "an empty entry in the host list");
			return -1;
		}
		if (n == max) {
			snprintf(err, errlen, "more than %zu hosts", max);
			return -1;
		}
		/* "[v6]:port", "[v6]", "name:port", "name" or a bare v6 address. */
		h = p;
		he = p + len;
		colon = NULL;
		if (*p == '[') {
			h = p + 1;
			if ((he = memchr(p, ']', len)) == NULL)
				goto bad;
			if (he + 1 < p + len) {
				if (he[1] != ':')
					goto bad;
				colon = he + 1;
			}
		} else if ((colon = memchr(p, ':', len)) != NULL &&
		    memchr(colon + 1, ':', (size_t)(p + len - colon - 1))) {
			colon = NULL; /* two colons: an IPv6 address, no port */
		} else if (colon != NULL)
			he = colon;
		if (he == h || (size_t)(he - h) >= sizeof(out[n].name))
			goto bad;
		for (const char *c = h; c < he; c++)
			if (!isalnum((unsigned char)*c) && *c != '.' &&
			    *c != '-' && *c != '_' && *c != ':')
				goto bad;
		memcpy(out[n].name, h, (size_t)(he - h));
		out[n].name[he - h] = '\0';
		out[n].port = default_port;
		if (colon != NULL) {
			if (!isdigit((unsigned char)colon[1]))
				goto bad;
			port = strtol(colon + 1, &end, 10);
			if (end != p + len || port < 1 || port > 65535)
				goto bad;
			out[n].port = (unsigned int)port;
		}
		n++;
		if (*e == '\0')
			return (int)n;
		p = e + 1;
	}
bad:
	snprintf(err, errlen, "\"%.*s\" is not a host, host:port or [v6]:port",
	    (int)(len > 64 ? 64 : len), p);
	return -1;
}
