/*
 * graph_encode: what we send Meta, built without the network (graph.h
 * documents each): appsecret_proof, URLs (only through curl's URL API),
 * the Authorization header, form bodies, and the one JSON body. Pure
 * functions, unit-tested in tests/unit/test_graph.c. Whatever may hold a
 * token or a secret is wiped before it is freed; the header line and the
 * form body are sized first and written once, so no realloc leaves a
 * copy behind.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "buf.h"
#include "graph.h"

/*
 * Graph "Securing Requests": appsecret_proof is the hex SHA-256 HMAC of
 * the access token keyed with the app secret. The multi-part API takes a
 * key of any length (crypto_auth_hmacsha256() wants exactly 32 bytes).
 */
void
graph_appsecret_proof(const char *app_secret, const char *token, char out[65])
{
	crypto_auth_hmacsha256_state st;
	unsigned char                mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)app_secret,
	    strlen(app_secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)token,
	    strlen(token));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
}

/*
 * Path segments are ids and fixed names: nothing to escape, no dots.
 * One id is Meta's own and not of that alphabet: a Resumable Upload
 * session, "upload:" and base64 (Graph API, Resumable Upload API), which
 * Meta's examples put in the path as it is; graph_upload_id_ok has
 * checked it, and only such a path may hold ':', '+' and '='.
 */
static int
graph_path_ok(const char *path)
{
	const char *seg, *end, *rest = path, *alphabet;
	size_t      n;

	alphabet = "abcdefghijklmnopqrstuvwxyz"
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.-";
	if (strncmp(path, "upload:", 7) == 0) {
		rest = strchr(path, ':') + 1;
		alphabet = "abcdefghijklmnopqrstuvwxyz"
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.-+=";
	}
	if (*path == '\0' || strspn(rest, alphabet) != strlen(rest) ||
	    strstr(path, "..") != NULL)
		return 0;
	for (seg = path;; seg = end + 1) {
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if (n == 0 || (n == 1 && *seg == '.'))
			return 0;
		if (end == NULL)
			return 1;
	}
}

char *
graph_build_url(const char *base, const char *version, const char *path,
    const char *const *params)
{
	CURLU     *u;
	struct buf p = BUF_INIT, kv = BUF_INIT;
	char      *bpath = NULL, *curl_s = NULL, *url = NULL;
	size_t     n;

	if (base == NULL || version == NULL || path == NULL ||
	    *version == '\0' ||
	    strspn(version,
	        "abcdefghijklmnopqrstuvwxyz"
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.") != strlen(version) ||
	    strstr(version, "..") != NULL || !graph_path_ok(path))
		return NULL;
	if ((u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &bpath, 0) != CURLUE_OK)
		goto fail;
	/* The base may carry a path of its own (a proxy prefix). */
	n = strlen(bpath);
	while (n > 0 && bpath[n - 1] == '/')
		n--;
	if (buf_append(&p, bpath, n) == -1 ||
	    buf_printf(&p, "/%s/%s", version, path) == -1 ||
	    curl_url_set(u, CURLUPART_PATH, buf_str(&p), 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
		goto fail;
	for (; params != NULL && params[0] != NULL; params += 2) {
		if (params[1] == NULL || *params[0] == '\0' ||
		    strspn(params[0],
		        "abcdefghijklmnopqrstuvwxyz"
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") !=
		        strlen(params[0]))
			goto fail;
		/* With APPENDQUERY, URLENCODE escapes all after the first
		   '=': the value, never the key we checked above. */
		buf_reset(&kv);
		if (buf_printf(&kv, "%s=%s", params[0], params[1]) == -1 ||
		    curl_url_set(u, CURLUPART_QUERY, buf_str(&kv),
		        CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK)
			goto fail;
	}
	/* Hand back plain malloc'd memory (free()), as documented. */
	if (curl_url_get(u, CURLUPART_URL, &curl_s, 0) != CURLUE_OK)
		goto fail;
	url = strdup(curl_s);
	sodium_memzero(curl_s, strlen(curl_s));
fail:
	curl_free(curl_s);
	curl_free(bpath);
	buf_free(&p);
	buf_free_secret(&kv); /* may hold a token or a secret */
	curl_url_cleanup(u);
	return url;
}

/*
 * What graph_build_url gives before the path ("base/version/", built
 * for the path "x" and cut before it), for graph_url_join: parsed once
 * by the URL API when the graph handle is made, not on every call (the
 * parse, set and get were ~13 us of each gateway send). NULL when base
 * or version is refused.
 */
char *
graph_url_prefix(const char *base, const char *version)
{
	char  *u;
	size_t n;

	if ((u = graph_build_url(base, version, "x", NULL)) == NULL)
		return NULL;
	n = strlen(u);
	if (n < 2 || strcmp(u + n - 2, "/x") != 0) {
		free(u);
		return NULL;
	}
	u[n - 1] = '\0';
	return u;
}

/*
 * prefix (graph_url_prefix) and path, as graph_build_url would give
 * them for a call without params: a path of [A-Za-z0-9_/.-] alone,
 * checked as there, is taken as it is by the URL API. NULL for any
 * other path (an upload session's id, a refused one) or without
 * memory: the caller then asks graph_build_url.
 */
char *
graph_url_join(const char *prefix, const char *path)
{
	size_t np, nq;
	char  *u;

	if (prefix == NULL || path == NULL ||
	    strncmp(path, "upload:", 7) == 0 || !graph_path_ok(path))
		return NULL;
	np = strlen(prefix);
	nq = strlen(path);
	if ((u = malloc(np + nq + 1)) == NULL)
		return NULL;
	memcpy(u, prefix, np);
	memcpy(u + np, path, nq + 1);
	return u;
}

char *
graph_auth_header(const char *scheme, const char *token)
{
	static const char pfx[] = "Authorization: ";
	const char       *p;
	char             *h;
	size_t            n, sn;

	if (scheme == NULL || token == NULL || *token == '\0' ||
	    (strcmp(scheme, "Bearer") != 0 && strcmp(scheme, "OAuth") != 0))
		return NULL;
	for (p = token; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return NULL;
	n = strlen(token);
	sn = strlen(scheme);
	if ((h = malloc(sizeof(pfx) + sn + 1 + n)) == NULL)
		return NULL;
	memcpy(h, pfx, sizeof(pfx) - 1);
	memcpy(h + sizeof(pfx) - 1, scheme, sn);
	h[sizeof(pfx) - 1 + sn] = ' ';
	memcpy(h + sizeof(pfx) + sn, token, n + 1);
	return h;
}

char *
graph_bearer_header(const char *token)
{
	return graph_auth_header("Bearer", token);
}

/* RFC 3986 §2.3 unreserved: sent as is; everything else as %XX. */
static int
graph_unreserved(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
	    ch == '~';
}

char *
graph_form_encode(const char *const *params)
{
	static const char    hex[] = "0123456789ABCDEF";
	const char *const   *kv;
	const unsigned char *v;
	char                *out, *o;
	size_t               n = 0;

	/* Sized first and written once: no realloc leaves a secret behind. */
	for (kv = params; kv != NULL && kv[0] != NULL; kv += 2) {
		if (kv[1] == NULL || *kv[0] == '\0' ||
		    strspn(kv[0],
		        "abcdefghijklmnopqrstuvwxyz"
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") !=
		        strlen(kv[0]))
			return NULL;
		n += (kv != params) + strlen(kv[0]) + 1;
		for (v = (const unsigned char *)kv[1]; *v != '\0'; v++)
			n += graph_unreserved(*v) ? 1 : 3;
	}
	if ((out = o = malloc(n + 1)) == NULL)
		return NULL;
	for (kv = params; kv != NULL && kv[0] != NULL; kv += 2) {
		if (kv != params)
			*o++ = '&';
		memcpy(o, kv[0], strlen(kv[0]));
		o += strlen(kv[0]);
		*o++ = '=';
		for (v = (const unsigned char *)kv[1]; *v != '\0'; v++) {
			if (graph_unreserved(*v))
				*o++ = (char)*v;
			else {
				*o++ = '%';
				*o++ = hex[*v >> 4];
				*o++ = hex[*v & 0x0f];
			}
		}
	}
	*o = '\0';
	return out;
}

void
graph_secret_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

/* --- JSON bodies ---------------------------------------------------------- */

static int
graph_json_add(struct json_object *o, const char *key, const char *val)
{
	struct json_object *v;

	if ((v = json_object_new_string(val)) == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/*
 * Cloud API "Messages", a text message. json-c writes it, so whatever
 * the body holds (quotes, newlines, any UTF-8) stays one JSON string.
 */
char *
graph_json_text_message(const char *to, const char *body)
{
	struct json_object *o, *t = NULL;
	const char         *s;
	char               *out = NULL;

	if (to == NULL || body == NULL ||
	    (o = json_object_new_object()) == NULL)
		return NULL;
	if (graph_json_add(o, "messaging_product", "whatsapp") == -1 ||
	    graph_json_add(o, "recipient_type", "individual") == -1 ||
	    graph_json_add(o, "to", to) == -1 ||
	    graph_json_add(o, "type", "text") == -1 ||
	    (t = json_object_new_object()) == NULL ||
	    graph_json_add(t, "body", body) == -1 ||
	    json_object_object_add(o, "text", t) != 0)
		goto out;
	t = NULL; /* o owns it now */
	if ((s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) !=
	    NULL)
		out = strdup(s);
out:
	json_object_put(t);
	json_object_put(o);
	return out;
}

/*
 * The client's message object as Meta's "Messages" endpoint takes it:
 * messaging_product first, then every member as sent but "from" (the
 * gateway's own: which of the workspace's numbers sends) and the
 * client's messaging_product (message.c let only "whatsapp" through).
 * The members are shared with msg, not copied: json-c counts the
 * references, and out's own are dropped with it.
 */
char *
graph_json_message(struct json_object *msg)
{
	struct json_object *o;
	const char         *s;
	char               *out = NULL;

	if (msg == NULL || !json_object_is_type(msg, json_type_object) ||
	    (o = json_object_new_object()) == NULL)
		return NULL;
	if (graph_json_add(o, "messaging_product", "whatsapp") == -1)
		goto out;
	json_object_object_foreach(msg, k, v)
	{
		if (strcmp(k, "from") == 0 ||
		    strcmp(k, "messaging_product") == 0)
			continue;
		if (json_object_object_add(o, k, json_object_get(v)) != 0) {
			json_object_put(v);
			goto out;
		}
	}
	if ((s = json_object_to_json_string_ext(o,
	         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) !=
	    NULL)
		out = strdup(s);
out:
	json_object_put(o);
	return out;
}
