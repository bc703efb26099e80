/*
 * media: the MIME types and size limits of Meta's two upload endpoints
 * (media.h), kept apart from the handlers so the tables are one place
 * to read and change when Meta's reference does.
 *
 * Sources: Cloud API reference, Media, "Supported media types" (audio
 * 16 MB, documents 100 MB, images 5 MB, stickers 500 KB animated and
 * 100 KB static, video 16 MB), and Graph API, Resumable Upload API
 * (file_type: application/pdf, image/jpeg, image/jpg, image/png,
 * video/mp4; no limit of its own is given there, so each type keeps
 * the limit of its class above). Meta's MB are counted here as MiB:
 * the larger reading, so nothing Meta takes is refused by us, and what
 * Meta finds too large is Meta's own refusal (422 meta_rejected).
 */
#include <string.h>
#include <strings.h>

#include "media.h"

#define MIB (1024 * 1024)
#define KIB 1024

static const struct media_type media_cloud[] = {
	{ "audio/aac", MEDIA_AUDIO, 16 * MIB, "aac" },
	{ "audio/amr", MEDIA_AUDIO, 16 * MIB, "amr" },
	{ "audio/mpeg", MEDIA_AUDIO, 16 * MIB, "mp3" },
	{ "audio/mp4", MEDIA_AUDIO, 16 * MIB, "m4a" },
	/* Meta: OPUS codecs only, which the type alone does not say. */
	{ "audio/ogg", MEDIA_AUDIO, 16 * MIB, "ogg" },
	{ "text/plain", MEDIA_DOCUMENT, 100 * MIB, "txt" },
	{ "application/pdf", MEDIA_DOCUMENT, 100 * MIB, "pdf" },
	{ "application/vnd.ms-powerpoint", MEDIA_DOCUMENT, 100 * MIB, "ppt" },
	{ "application/msword", MEDIA_DOCUMENT, 100 * MIB, "doc" },
	{ "application/vnd.ms-excel", MEDIA_DOCUMENT, 100 * MIB, "xls" },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml."
	  "document",
	    MEDIA_DOCUMENT, 100 * MIB, "docx" },
	{ "application/vnd.openxmlformats-officedocument.presentationml."
	  "presentation",
	    MEDIA_DOCUMENT, 100 * MIB, "pptx" },
	{ "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	    MEDIA_DOCUMENT, 100 * MIB, "xlsx" },
	{ "image/jpeg", MEDIA_IMAGE, 5 * MIB, "jpg" },
	{ "image/png", MEDIA_IMAGE, 5 * MIB, "png" },
	{ "image/webp", MEDIA_STICKER, 500 * KIB, "webp" },
	/* Meta's pages spell 3GPP both ways. */
	{ "video/3gpp", MEDIA_VIDEO, 16 * MIB, "3gp" },
	{ "video/3gp", MEDIA_VIDEO, 16 * MIB, "3gp" },
	{ "video/mp4", MEDIA_VIDEO, 16 * MIB, "mp4" },
	{ NULL, MEDIA_AUDIO, 0, NULL },
};

static const struct media_type media_upload[] = {
	{ "application/pdf", MEDIA_DOCUMENT, 100 * MIB, "pdf" },
	{ "image/jpeg", MEDIA_IMAGE, 5 * MIB, "jpg" },
	{ "image/jpg", MEDIA_IMAGE, 5 * MIB, "jpg" },
	{ "image/png", MEDIA_IMAGE, 5 * MIB, "png" },
	{ "video/mp4", MEDIA_VIDEO, 16 * MIB, "mp4" },
	{ NULL, MEDIA_AUDIO, 0, NULL },
};

/* The type part of a Content-Type: up to ';' or white space. */
static const struct media_type *
media_find(const struct media_type *t, const char *ct)
{
	size_t n;

	if (ct == NULL)
		return NULL;
	n = strcspn(ct, "; \t");
	if (n == 0 || n >= MEDIA_TYPE_MAX)
		return NULL;
	for (; t->mime != NULL; t++)
		if (strlen(t->mime) == n && strncasecmp(t->mime, ct, n) == 0)
			return t;
	return NULL;
}

const struct media_type *
media_type_cloud(const char *content_type)
{
	return media_find(media_cloud, content_type);
}

const struct media_type *
media_type_upload(const char *content_type)
{
	return media_find(media_upload, content_type);
}

const char *
media_types_cloud_list(void)
{
	return "audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg, "
	       "text/plain, application/pdf, application/msword, "
	       "application/vnd.ms-excel, application/vnd.ms-powerpoint, the "
	       "Office Open XML document, sheet and presentation types, "
	       "image/jpeg, image/png, image/webp (stickers), video/3gpp, "
	       "video/mp4";
}

const char *
media_types_upload_list(void)
{
	return "application/pdf, image/jpeg, image/jpg, image/png, video/mp4";
}

const char *
media_class_name(enum media_class c)
{
	switch (c) {
	case MEDIA_AUDIO:
		return "audio";
	case MEDIA_DOCUMENT:
		return "document";
	case MEDIA_IMAGE:
		return "image";
	case MEDIA_STICKER:
		return "sticker";
	case MEDIA_VIDEO:
		return "video";
	}
	return "media";
}

/*
 * WebP container (RFC 9649 §2.5, §2.7): "RIFF" size "WEBP", then the
 * first chunk; an extended file's first chunk is "VP8X", whose first
 * payload byte holds the flags, animation being 0x02.
 */
int
media_webp_animated(const unsigned char *p, size_t len)
{
	if (p == NULL || len < 21)
		return 0;
	return memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0 &&
	    memcmp(p + 12, "VP8X", 4) == 0 && (p[20] & 0x02) != 0;
}

int
media_file_name_ok(const char *name, size_t len)
{
	size_t i;

	/* By its length: the name need not end in a NUL. */
	if (name == NULL || len == 0 || len > 255 ||
	    (len == 1 && name[0] == '.') ||
	    (len == 2 && memcmp(name, "..", 2) == 0))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f ||
		    name[i] == '/' || name[i] == '\\')
			return 0;
	return 1;
}
