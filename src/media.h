/*
 * media: what the internal API's POST /media and POST /uploads accept
 * (doc/contract.md, Internal API): the MIME types Meta takes, each
 * with its size limit, checked from the request's headers before a byte
 * of the body is read. Pure functions, unit-tested without network.
 */
#ifndef WABA_MEDIA_H
#define WABA_MEDIA_H

#include <stddef.h>

/* The classes of Meta's "Supported media types" (Cloud API, Media). */
enum media_class {
	MEDIA_AUDIO,
	MEDIA_DOCUMENT,
	MEDIA_IMAGE,
	MEDIA_STICKER,
	MEDIA_VIDEO
};

#define MEDIA_TYPE_MAX 128 /* a MIME type as Meta spells it, with NUL */

/* One accepted type: Meta's spelling, its class, its largest size. */
struct media_type {
	const char      *mime;
	enum media_class cls;
	size_t           max; /* bytes; a sticker's is the animated one */
	const char      *ext; /* the file name's extension Meta is sent */
};

/*
 * Content-Type (with any ";parameters", any case) → the accepted type
 * of POST /media (Cloud API media upload), or NULL when Meta does not
 * take it. The static table is owned by this module.
 */
const struct media_type *media_type_cloud(const char *content_type);
/*
 * The same for POST /uploads: the Resumable Upload API's file types
 * (application/pdf, image/jpeg, image/jpg, image/png, video/mp4).
 */
const struct media_type *media_type_upload(const char *content_type);
/* The types of one of the two lists, comma-separated, for a refusal. */
const char *media_types_cloud_list(void);
const char *media_types_upload_list(void);
/* The class's name in Meta's words ("image", "sticker", ...). */
const char *media_class_name(enum media_class);
/* Meta's limit for a static (not animated) WebP sticker. */
#define MEDIA_STICKER_STATIC_MAX (100 * 1024)
/*
 * 1 when the WebP bytes are an animated one (RIFF/WEBP with a VP8X
 * chunk whose animation flag is set), 0 otherwise: a static sticker
 * has the smaller limit, which only the bytes can tell.
 */
int media_webp_animated(const unsigned char *p, size_t len);
/*
 * 1 when name can be sent to Meta as an upload's file_name: 1..255
 * bytes of UTF-8 with no control character, no '/' or '\\', and not
 * "." or "..". request.c checked the UTF-8; this checks the rest.
 */
int media_file_name_ok(const char *name, size_t len);

#endif
