/*
 * graph_media: Meta's two ways to take a file (graph.h, Media uploads):
 * the Cloud API's POST /{phone_id}/media (multipart/form-data, a
 * media id back, for messages) and the Graph API's Resumable Upload
 * API (a session on the app, the bytes, a handle back, for template
 * header examples), with the parsers of their answers. A file of its
 * own: its bodies are the only large ones, sent from the caller's
 * buffer without a copy, and its ids are not of the usual alphabet.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "buf.h"
#include "graph.h"
#include "graph_int.h"
#include "jsonx.h"

/* A 2xx answer that is not what Meta documents. */
static int
gm_bad(struct graph_err *err, const char *field)
{
	err->bad_response = 1;
	snprintf(err->message, sizeof(err->message),
	    "Meta's answer has no valid \"%s\"", field);
	return -1;
}

/* The whole answer as one JSON object, or NULL. */
static struct json_object *
gm_root(const struct buf *resp)
{
	struct json_tokener *tk;
	struct json_object  *o = NULL;

	if (resp->len == 0 || resp->len > GRAPH_MAX_BODY ||
	    (tk = json_tokener_new_ex(16)) == NULL)
		return NULL;
	json_tokener_set_flags(tk, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tk, resp->data, (int)resp->len);
	if (o != NULL &&
	    (json_tokener_get_error(tk) != json_tokener_success ||
	        json_tokener_get_parse_end(tk) != resp->len ||
	        !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tk);
	return o;
}

/*
 * The string member key of the answer into out (size bytes with the
 * NUL), when every byte of it is in allowed: ids reach our logs and our
 * answers, so one that does not fit is refused, never cut.
 */
static int
gm_str(const struct buf *resp, const char *key, const char *allowed, char *out,
    size_t size, struct graph_err *err)
{
	struct json_object *root;
	const char         *s;
	size_t              n;
	int                 rc = -1;

	out[0] = '\0';
	if ((root = gm_root(resp)) == NULL)
		return gm_bad(err, key);
	if ((s = jx_str(root, key, &n)) == NULL || n == 0 || n >= size ||
	    strspn(s, allowed) != n)
		gm_bad(err, key);
	else {
		memcpy(out, s, n + 1);
		rc = 0;
	}
	json_object_put(root);
	return rc;
}

#define GM_ALNUM \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
/* Base64 (both alphabets) and its padding. */
#define GM_B64 GM_ALNUM "+/=_-"

int
graph_upload_id_ok(const char *id)
{
	const char *q;
	size_t      n;

	if (id == NULL || strncmp(id, "upload:", 7) != 0 ||
	    strlen(id) >= GRAPH_UPLOAD_ID_MAX)
		return 0;
	q = strchr(id, '?');
	n = q != NULL ? (size_t)(q - id) : strlen(id);
	/* Meta's example: upload:<base64>?sig=<signature>. */
	if (n <= 7 || strspn(id + 7, GM_B64) != n - 7 || id[7] == '/' ||
	    id[n - 1] == '/' || memmem(id, n, "//", 2) != NULL)
		return 0;
	if (q == NULL)
		return 1;
	return strncmp(q, "?sig=", 5) == 0 && q[5] != '\0' &&
	    strspn(q + 5, GM_B64) == strlen(q + 5);
}

/*
 * The session id as a path and its sig as a parameter: params gets
 * "sig", value (or nothing) then appsecret_proof, proof.
 */
static int
gm_upload_target(const char *id, struct buf *path, const char **params,
    char *proof)
{
	const char *q = strchr(id, '?');
	size_t      i = 0;

	if (buf_append(path, id, q ? (size_t)(q - id) : strlen(id)) == -1)
		return -1;
	if (q != NULL) {
		params[i++] = "sig";
		params[i++] = q + 5;
	}
	params[i++] = "appsecret_proof";
	params[i++] = proof;
	params[i] = NULL;
	return 0;
}

int
graph_media_upload(struct graph *g, const char *token, const char *phone_id,
    const char *type, const char *file_name, const void *data, size_t len,
    char media_id[GRAPH_MEDIA_ID_MAX], struct graph_err *err)
{
	struct buf              path = BUF_INIT, resp;
	char                    proof[65];
	const char *const       params[] = { "appsecret_proof", proof, NULL };
	const struct graph_part parts[] = {
		{ "messaging_product", "whatsapp", 8, NULL, NULL },
		{ "type", type, type ? strlen(type) : 0, NULL, NULL },
		{ "file", data, len, file_name, type },
	};
	struct graph_req r = { .endpoint = "media",
		.params = params,
		.token = token,
		.parts = parts,
		.nparts = 3,
		/* Not idempotent: each upload is a new media object. */
		.idempotent = 0 };
	int              rc;

	media_id[0] = '\0';
	if (token == NULL || phone_id == NULL || type == NULL ||
	    file_name == NULL || (data == NULL && len > 0))
		return graph_fail(err, "no token, number, type or file");
	if (buf_printf(&path, "%s/media", phone_id) == -1)
		return graph_fail(err, "out of memory");
	r.path = buf_str(&path);
	graph_appsecret_proof(g->app_secret, token, proof);
	rc = graph_do(g, &r, &resp, err);
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	if (rc == -1)
		return -1;
	/* Cloud API media ids are digits. */
	rc = gm_str(&resp, "id", "0123456789", media_id, GRAPH_MEDIA_ID_MAX,
	    err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_upload_session(struct graph *g, const char *token, const char *file_name,
    size_t len, const char *type, char upload_id[GRAPH_UPLOAD_ID_MAX],
    struct graph_err *err)
{
	struct buf        path = BUF_INIT, resp;
	char              proof[65], length[24];
	const char *const params[] = { "file_name", file_name, "file_length",
		length, "file_type", type, "appsecret_proof", proof, NULL };
	struct graph_req  r = { .endpoint = "uploads",
		 .params = params,
		 .token = token,
		 .ctype = "application/x-www-form-urlencoded",
		 .body = "",
		 .bodylen = 0,
		 /* A session left unused expires at Meta; still, each
		    call makes one, so none is made twice blindly. */
		 .idempotent = 0 };
	int               rc;

	upload_id[0] = '\0';
	if (token == NULL || file_name == NULL || type == NULL)
		return graph_fail(err, "no token, file name or type");
	snprintf(length, sizeof(length), "%zu", len);
	if (buf_printf(&path, "%s/uploads", g->app_id) == -1)
		return graph_fail(err, "out of memory");
	r.path = buf_str(&path);
	graph_appsecret_proof(g->app_secret, token, proof);
	rc = graph_do(g, &r, &resp, err);
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	if (rc == -1)
		return -1;
	rc = gm_str(&resp, "id", GM_B64 ":?", upload_id, GRAPH_UPLOAD_ID_MAX,
	    err);
	if (rc == 0 && !graph_upload_id_ok(upload_id)) {
		upload_id[0] = '\0';
		rc = gm_bad(err, "id");
	}
	buf_free_secret(&resp);
	return rc;
}

int
graph_upload_data(struct graph *g, const char *token, const char *upload_id,
    const char *type, const void *data, size_t len, size_t offset, char *handle,
    size_t handle_size, struct graph_err *err)
{
	struct buf        path = BUF_INIT, resp;
	char              proof[65], off[40];
	const char       *params[7];
	const char *const headers[] = { off, NULL };
	struct graph_req  r = { .endpoint = "upload_data",
		 .token = token,
		 /* Meta: the token only in "Authorization: OAuth", the
		    offset only as a header. */
		 .auth = "OAuth",
		 .headers = headers,
		 .ctype = type,
		 /* Not repeated blindly: graph_upload_offset tells what
		    Meta holds, and the caller resumes from there. */
		 .idempotent = 0 };
	int               rc;

	handle[0] = '\0';
	if (token == NULL || type == NULL || offset > len ||
	    (data == NULL && len > 0) || !graph_upload_id_ok(upload_id))
		return graph_fail(err, "no token, type or upload session");
	r.body = (const char *)data + offset;
	r.bodylen = len - offset;
	snprintf(off, sizeof(off), "file_offset: %zu", offset);
	graph_appsecret_proof(g->app_secret, token, proof);
	if (gm_upload_target(upload_id, &path, params, proof) == -1) {
		buf_free(&path);
		return graph_fail(err, "out of memory");
	}
	r.path = buf_str(&path);
	r.params = params;
	rc = graph_do(g, &r, &resp, err);
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	if (rc == -1)
		return -1;
	/* Meta's handles are "n:base64:type:...", sometimes two lines. */
	rc = gm_str(&resp, "h", GM_B64 ":\n", handle, handle_size, err);
	buf_free_secret(&resp);
	return rc;
}

int
graph_upload_offset(struct graph *g, const char *token, const char *upload_id,
    size_t *offset, struct graph_err *err)
{
	struct buf          path = BUF_INIT, resp;
	struct json_object *root, *v;
	char                proof[65];
	const char         *params[7];
	struct graph_req    r = { .endpoint = "upload_status",
		   .token = token,
		   .auth = "OAuth",
		   .idempotent = 1 };
	int64_t             n;
	int                 rc;

	*offset = 0;
	if (token == NULL || !graph_upload_id_ok(upload_id))
		return graph_fail(err, "no token or upload session");
	graph_appsecret_proof(g->app_secret, token, proof);
	if (gm_upload_target(upload_id, &path, params, proof) == -1) {
		buf_free(&path);
		return graph_fail(err, "out of memory");
	}
	r.path = buf_str(&path);
	r.params = params;
	rc = graph_do(g, &r, &resp, err);
	sodium_memzero(proof, sizeof(proof));
	buf_free(&path);
	if (rc == -1)
		return -1;
	rc = -1;
	if ((root = gm_root(&resp)) == NULL ||
	    (v = jx_get(root, "file_offset", json_type_int)) == NULL ||
	    (n = json_object_get_int64(v)) < 0)
		gm_bad(err, "file_offset");
	else {
		*offset = (size_t)n;
		rc = 0;
	}
	json_object_put(root);
	buf_free_secret(&resp);
	return rc;
}
