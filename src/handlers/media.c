/*
 * media: the internal API's two upload routes (doc/contract.md, Internal
 * API): POST /media (Cloud API media, a media id for messages) and POST
 * /uploads (the Resumable Upload API, a handle for template header
 * examples). Their bodies are the file's bytes, not a form and not
 * text: app.c does not read them (ROUTE_UPLOAD); these handlers check
 * the type and the size from the headers first, so a file that is too
 * large or of a type Meta refuses costs no read and no Meta call, then
 * read the body once and hand that buffer to curl as it is.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "../app.h"
#include "../config.h"
#include "../graph.h"
#include "../log.h"
#include "../media.h"
#include "../request.h"
#include "../response.h"
#include "../store/connection.h"
#include "../store/numbers.h"
#include "../vault.h"
#include "handlers.h"

/* The size in words for a refusal: "5 MiB", "500 KiB", "1234 bytes". */
static void
media_size_words(size_t n, char *out, size_t len)
{
	if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
		snprintf(out, len, "%zu MiB", n / (1024 * 1024));
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(out, len, "%zu KiB", n / 1024);
	else
		snprintf(out, len, "%zu bytes", n);
}

/*
 * The checks both routes make before reading a byte: a type Meta takes
 * (400 invalid_request naming the accepted types otherwise; 400 rather
 * than 415, the contract's own code for a request it refuses), a body
 * that is not empty (400), and no larger than the type's limit and [api]
 * max_upload_bytes (413 too_large). *limit gets the smaller of the two.
 */
static enum answer
media_precheck(struct ctx *c, const struct media_type *t, const char *ctype,
    const char *accepted, const char *what, size_t *limit)
{
	char   msg[900], lim[32];
	size_t len = c->req->content_length;
	int    ours;

	if (ctype == NULL)
		return api_error(c, 400, "invalid_request",
		    "Content-Type is required: the file's MIME type");
	if (t == NULL) {
		snprintf(msg, sizeof(msg),
		    "Content-Type is not a type Meta accepts for %s; "
		    "accepted: %s",
		    what, accepted);
		return api_error(c, 400, "invalid_request", msg);
	}
	if (len == 0)
		return api_error(c, 400, "invalid_request",
		    "the body is empty: send the file's bytes as the body");
	ours = c->app->cfg->api_max_upload_bytes < t->max;
	*limit = ours ? c->app->cfg->api_max_upload_bytes : t->max;
	if (len > *limit) {
		media_size_words(*limit, lim, sizeof(lim));
		snprintf(msg, sizeof(msg),
		    "this %s file is %zu bytes; %s takes at most %s", t->mime,
		    len, ours ? "this server" : "Meta", lim);
		return api_error(c, 413, "too_large", msg);
	}
	return GO_ON;
}

/* The body, now that it is known to be wanted: read once, at most limit. */
static enum answer
media_read(struct ctx *c, size_t limit)
{
	char         why[256] = "";
	enum req_err err;

	/* Not a form and not text: kept as bytes, never parsed. */
	switch ((err = req_read_body(c->req, limit, 0, why, sizeof(why)))) {
	case REQ_OK:
		return GO_ON;
	case REQ_TOO_LARGE:
		return api_error(c, 413, "too_large", why);
	case REQ_NOMEM:
		log_err("%s %s: out of memory for a %zu-byte body",
		    c->req->method_str, c->req->path, c->req->content_length);
		return api_error(c, 503, "unavailable",
		    "the server has no memory for this file now; try again "
		    "in a moment");
	case REQ_CUT_SHORT:
	case REQ_BAD_ENCODING:
	case REQ_BAD_FIELDS:
	case REQ_BAD_LENGTH:
	case REQ_NOT_FORM:
	case REQ_TOO_LONG:
		break;
	}
	return api_error(c, 400, "invalid_request", why);
}

/*
 * POST /api/v1/w/{slug}/media: the body to the workspace's number
 * (the default, or ?from= one of its active numbers) as Cloud API
 * media → {"media_id"}.
 */
enum answer
h_api_media(struct ctx *c)
{
	const struct media_type *t;
	struct conn_row          row;
	struct num_row           num;
	struct vault_secret      tok;
	struct graph_err         err;
	const char              *phone, *ctype = c->in[MEDIA_CTYPE].s;
	char                     id[GRAPH_MEDIA_ID_MAX], name[32];
	size_t                   limit = 0;
	enum store_rc            rc;
	struct json_object      *o;

	t = c->in[MEDIA_CTYPE].set ? media_type_cloud(ctype) : NULL;
	if (media_precheck(c, t, c->in[MEDIA_CTYPE].set ? ctype : NULL,
	        media_types_cloud_list(), "media", &limit) == ANSWERED)
		return ANSWERED;
	if (api_ready(c, &row) == ANSWERED)
		return ANSWERED;
	phone = row.phone_number_id;
	if (c->in[MEDIA_FROM].set) {
		rc = store_num_get(c->app->db, &c->ws, c->in[MEDIA_FROM].s,
		    &num);
		if (rc == STORE_NOTFOUND ||
		    (rc == STORE_OK && strcmp(num.state, NUM_ACTIVE) != 0))
			return api_error(c, 400, "invalid_request",
			    "from is not one of this workspace's active "
			    "phone numbers");
		if (rc != STORE_OK)
			return api_db_down(c);
		phone = c->in[MEDIA_FROM].s;
	}
	if (*phone == '\0')
		return api_error(c, 409, "not_connected",
		    "this workspace has no phone number to send from yet");
	if (media_read(c, limit) == ANSWERED)
		return ANSWERED;
	/* Only the bytes say whether a WebP is animated (Meta: 500 KB
	   animated, 100 KB static). */
	if (t->cls == MEDIA_STICKER &&
	    c->req->body.len > MEDIA_STICKER_STATIC_MAX &&
	    !media_webp_animated((const unsigned char *)c->req->body.data,
	        c->req->body.len))
		return api_error(c, 413, "too_large",
		    "a static WebP sticker may be at most 100 KiB (Meta's "
		    "limit; 500 KiB for an animated one)");
	if (api_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	snprintf(name, sizeof(name), "upload.%s", t->ext);
	if (graph_media_upload(c->app->graph, tok.data, phone, t->mime, name,
	        c->req->body.data, c->req->body.len, id, &err) == -1) {
		vault_secret_free(&tok);
		return api_graph_failed(c, "uploading the media",
		    VAULT_KIND_WABA, &err);
	}
	vault_secret_free(&tok);
	log_info("workspace %llu: media %s uploaded (%s, %zu bytes)",
	    (unsigned long long)c->ws.id, id, t->mime, c->req->body.len);
	if ((o = json_object_new_object()) != NULL)
		json_object_object_add(o, "media_id",
		    json_object_new_string(id));
	return api_json(c, 200, o);
}

/*
 * The bytes into an open session. The data call is not repeated
 * blindly; but Meta documents the session as resumable: after an
 * interruption, GET /{upload-id} says how many bytes it holds
 * (file_offset) and the upload goes on from there. Bytes are taken
 * only at the session's own offset, so resuming once from what Meta
 * reports cannot store anything twice. A failure Meta answered (its
 * 4xx, a rejection) is final; so is an interruption after which Meta
 * holds the whole file but never said its handle: there is nothing
 * to resume then, and the caller learns the upload failed (502).
 */
static int
media_upload_bytes(struct ctx *c, const char *token, const char *upload_id,
    const char *type, char *handle, struct graph_err *err)
{
	struct graph_err again;
	const char      *data = c->req->body.data;
	size_t           len = c->req->body.len, off = 0;

	if (graph_upload_data(c->app->graph, token, upload_id, type, data, len,
	        0, handle, GRAPH_HANDLE_MAX, err) == 0)
		return 0;
	if (!err->maybe_done && !err->timeout && !err->network)
		return -1;
	if (graph_upload_offset(c->app->graph, token, upload_id, &off,
	        &again) == -1 ||
	    off >= len) {
		log_warn("workspace %llu: upload interrupted; %s",
		    (unsigned long long)c->ws.id,
		    off >= len && off > 0 ? "Meta holds it all, no handle"
		                          : "its offset could not be read");
		return -1;
	}
	log_info("workspace %llu: upload interrupted, resuming at byte %zu "
	         "of %zu",
	    (unsigned long long)c->ws.id, off, len);
	return graph_upload_data(c->app->graph, token, upload_id, type, data,
	    len, off, handle, GRAPH_HANDLE_MAX, err);
}

/*
 * POST /api/v1/w/{slug}/uploads: the body, its Content-Type and
 * X-File-Name through the Resumable Upload API on the app → {"handle"}.
 */
enum answer
h_api_uploads(struct ctx *c)
{
	const struct media_type *t;
	struct conn_row          row;
	struct vault_secret      tok;
	struct graph_err         err;
	const char              *ctype = c->in[UPLOAD_CTYPE].s;
	char                     sid[GRAPH_UPLOAD_ID_MAX], h[GRAPH_HANDLE_MAX];
	size_t                   limit = 0;
	struct json_object      *o;

	t = c->in[UPLOAD_CTYPE].set ? media_type_upload(ctype) : NULL;
	if (media_precheck(c, t, c->in[UPLOAD_CTYPE].set ? ctype : NULL,
	        media_types_upload_list(), "a resumable upload",
	        &limit) == ANSWERED)
		return ANSWERED;
	if (!c->in[UPLOAD_NAME].set)
		return api_error(c, 400, "invalid_request",
		    "X-File-Name is required: the file's name");
	if (!media_file_name_ok(c->in[UPLOAD_NAME].s, c->in[UPLOAD_NAME].len))
		return api_error(c, 400, "invalid_request",
		    "X-File-Name is not valid: 1 to 255 bytes of text, no "
		    "control characters, no / or \\");
	if (api_ready(c, &row) == ANSWERED)
		return ANSWERED;
	if (media_read(c, limit) == ANSWERED)
		return ANSWERED;
	if (api_token(c, VAULT_KIND_WABA, &tok) == ANSWERED)
		return ANSWERED;
	if (graph_upload_session(c->app->graph, tok.data, c->in[UPLOAD_NAME].s,
	        c->req->body.len, t->mime, sid, &err) == -1) {
		vault_secret_free(&tok);
		return api_graph_failed(c, "opening the upload session",
		    VAULT_KIND_WABA, &err);
	}
	if (media_upload_bytes(c, tok.data, sid, t->mime, h, &err) == -1) {
		vault_secret_free(&tok);
		return api_graph_failed(c, "uploading the file",
		    VAULT_KIND_WABA, &err);
	}
	vault_secret_free(&tok);
	log_info("workspace %llu: file uploaded for a handle (%s, %zu bytes)",
	    (unsigned long long)c->ws.id, t->mime, c->req->body.len);
	if ((o = json_object_new_object()) != NULL)
		json_object_object_add(o, "handle", json_object_new_string(h));
	return api_json(c, 200, o);
}
