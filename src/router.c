/*
 * router: which route a method and path mean, against app.c's table.
 * Matching is exact, segment by segment ({slug} validated as it is
 * read), so a handler is reached only by the paths doc/contract.md
 * lists, never by a near miss.
 */
#include <string.h>

#include "app.h"

#include "request.h"
#include "router.h"

size_t
route_nfields(const struct route *rt)
{
	size_t n = 0;

	while (n < IN_MAX_FIELDS && rt->in[n].name != NULL)
		n++;
	return n;
}

int
router_slug_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 63)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* Matches path against pattern, segment by segment. */
static int
router_path_match(const char *pat, const char *path, char slug[64],
    struct req_var *var)
{
	const char *pe, *se;
	size_t      plen, slen;

	for (;;) {
		if (*pat != '/' || *path != '/')
			return 0;
		pat++;
		path++;
		pe = strchr(pat, '/');
		plen = pe ? (size_t)(pe - pat) : strlen(pat);
		se = strchr(path, '/');
		slen = se ? (size_t)(se - path) : strlen(path);
		if (plen == 6 && strncmp(pat, "{slug}", 6) == 0) {
			if (!router_slug_valid(path, slen))
				return 0;
			memcpy(slug, path, slen);
			slug[slen] = '\0';
		} else if (plen > 2 && pat[0] == '{' && pat[plen - 1] == '}') {
			if (slen == 0 || slen >= sizeof(var->value) ||
			    plen - 2 >= sizeof(var->name))
				return 0;
			memcpy(var->name, pat + 1, plen - 2);
			var->name[plen - 2] = '\0';
			memcpy(var->value, path, slen);
			var->value[slen] = '\0';
		} else if (plen != slen || strncmp(pat, path, plen) != 0)
			return 0;
		pat += plen;
		path += slen;
		if (*pat == '\0' && *path == '\0')
			return 1;
		/* A trailing slash is a different path: 404, not a guess. */
		if (*pat == '\0' || *path == '\0')
			return 0;
	}
}

const struct route *
router_match(const struct route *t, size_t n, int method, const char *path,
    char slug[64], struct req_var *var, int *status, int *allowed)
{
	size_t i;
	int    m = method == REQ_HEAD ? REQ_GET : method;

	*allowed = 0;
	for (i = 0; i < n; i++) {
		memset(var, 0, sizeof(*var));
		if (!router_path_match(t[i].pattern, path, slug, var))
			continue;
		if (t[i].methods & m)
			return &t[i];
		*allowed |= t[i].methods;
	}
	*status = *allowed ? 405 : 404;
	slug[0] = '\0';
	memset(var, 0, sizeof(*var));
	return NULL;
}
