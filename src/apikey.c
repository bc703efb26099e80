/*
 * apikey: making, reading and hashing the internal API's keys, and
 * their scope names (apikey.h says why the format is what it is).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "apikey.h"

/* In bit order: bit i is names[i]. doc/contract.md, Internal API. */
static const char *const scope_names[APIKEY_NSCOPES] = { "connection:read",
	"messages:send", "templates:read", "templates:write", "media:write",
	"catalog:write", "events:read" };

void
apikey_new(char out[APIKEY_LEN + 1])
{
	unsigned char raw[APIKEY_RANDOM_BYTES];

	randombytes_buf(raw, sizeof(raw));
	memcpy(out, APIKEY_PREFIX, APIKEY_PREFIX_LEN);
	/* sodium_bin2hex writes lowercase, the one spelling we accept. */
	sodium_bin2hex(out + APIKEY_PREFIX_LEN, 2 * APIKEY_RANDOM_BYTES + 1,
	    raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
}

int
apikey_valid(const char *s, size_t len)
{
	size_t i;

	if (len != APIKEY_LEN ||
	    memcmp(s, APIKEY_PREFIX, APIKEY_PREFIX_LEN) != 0)
		return 0;
	for (i = APIKEY_PREFIX_LEN; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

const char *
apikey_from_header(const char *hdr)
{
	const char *k;

	if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
		return NULL;
	for (k = hdr + 7; *k == ' '; k++)
		;
	return apikey_valid(k, strlen(k)) ? k : NULL;
}

void
apikey_hash(const char *key, unsigned char out[APIKEY_HASH_BYTES])
{
	crypto_hash_sha256(out, (const unsigned char *)key, strlen(key));
}

void
apikey_shown(const char *key, char out[APIKEY_SHOWN_LEN + 1])
{
	snprintf(out, APIKEY_SHOWN_LEN + 1, "%.*s", APIKEY_SHOWN_LEN, key);
}

int
apikey_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > APIKEY_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		        (name[i] >= 'A' && name[i] <= 'Z') ||
		        (name[i] >= '0' && name[i] <= '9') || name[i] == '.' ||
		        name[i] == '_' || name[i] == '-'))
			return 0;
	return 1;
}

const char *
apikey_scope_name(unsigned bit)
{
	unsigned i;

	for (i = 0; i < APIKEY_NSCOPES; i++)
		if (bit == 1u << i)
			return scope_names[i];
	return NULL;
}

unsigned
apikey_scope_bit(const char *name)
{
	unsigned i;

	for (i = 0; i < APIKEY_NSCOPES; i++)
		if (strcmp(name, scope_names[i]) == 0)
			return 1u << i;
	return 0;
}

int
apikey_scopes_parse(const char *list, unsigned *mask, char *bad, size_t badlen)
{
	char        one[32];
	const char *p = list, *end;
	size_t      len;
	unsigned    bit;

	*mask = 0;
	for (;;) {
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		bit = 0;
		if (len > 0 && len < sizeof(one)) {
			memcpy(one, p, len);
			one[len] = '\0';
			bit = apikey_scope_bit(one);
		}
		if (bit == 0) {
			if (bad != NULL)
				snprintf(bad, badlen, "%.*s",
				    (int)(len > 64 ? 64 : len), p);
			*mask = 0;
			return -1;
		}
		*mask |= bit;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

int
apikey_scopes_format(unsigned mask, char *out, size_t len)
{
	size_t   used = 0;
	unsigned i;
	int      n;

	if (len == 0)
		return -1;
	out[0] = '\0';
	for (i = 0; i < APIKEY_NSCOPES; i++) {
		if (!(mask & (1u << i)))
			continue;
		n = snprintf(out + used, len - used, "%s%s", used ? "," : "",
		    scope_names[i]);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}
