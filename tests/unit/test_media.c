/*
 * media: the upload routes' types and limits, the WebP animation flag,
 * file names; and the Graph pieces only uploads use (session ids, the
 * OAuth header, an upload path in a URL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "../../src/graph.h"
#include "../../src/media.h"
#include "harness.h"

static void
test_cloud_types(void)
{
	static const struct {
		const char *ct;
		const char *mime; /* NULL: refused */
		size_t      max;
	} cases[] = {
		{ "image/png", "image/png", 5u << 20 },
		{ "IMAGE/JPEG", "image/jpeg", 5u << 20 },
		{ "audio/ogg; codecs=opus", "audio/ogg", 16u << 20 },
		{ "application/pdf", "application/pdf", 100u << 20 },
		{ "image/webp", "image/webp", 500u << 10 },
		{ "video/3gpp", "video/3gpp", 16u << 20 },
		{ "image/gif", NULL, 0 },
		{ "image/pngx", NULL, 0 },
		{ "image/pn", NULL, 0 },
		{ "", NULL, 0 },
		{ ";image/png", NULL, 0 },
		{ "application/x-www-form-urlencoded", NULL, 0 },
	};
	const struct media_type *t;
	size_t                   i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_case("%s", cases[i].ct);
		t = media_type_cloud(cases[i].ct);
		if (cases[i].mime == NULL) {
			CU_ASSERT_PTR_NULL(t);
			continue;
		}
		CU_ASSERT_PTR_NOT_NULL(t);
		if (t == NULL)
			continue;
		UT_EQ_STR(t->mime, cases[i].mime);
		UT_EQ_UINT(t->max, cases[i].max);
	}
	CU_ASSERT_PTR_NULL(media_type_cloud(NULL));
}

static void
test_upload_types(void)
{
	const char *ok[] = { "application/pdf", "image/jpeg", "image/jpg",
		"image/png", "video/mp4" };
	size_t      i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ut_case("%s", ok[i]);
		CU_ASSERT_PTR_NOT_NULL(media_type_upload(ok[i]));
	}
	CU_ASSERT_PTR_NULL(media_type_upload("image/webp"));
	CU_ASSERT_PTR_NULL(media_type_upload("text/plain"));
	CU_ASSERT_PTR_NULL(media_type_upload("audio/ogg"));
	/* image/jpg is the Resumable Upload API's alone. */
	CU_ASSERT_PTR_NULL(media_type_cloud("image/jpg"));
	UT_EQ_STR(media_class_name(media_type_upload("video/mp4")->cls),
	    "video");
}

static void
test_webp_animated(void)
{
	unsigned char a[32] = "RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02";
	unsigned char s[32] = "RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x10";
	unsigned char l[32] = "RIFF\0\0\0\0WEBPVP8L";

	UT_EQ_INT(media_webp_animated(a, sizeof(a)), 1);
	UT_EQ_INT(media_webp_animated(s, sizeof(s)), 0);
	UT_EQ_INT(media_webp_animated(l, sizeof(l)), 0);
	UT_EQ_INT(media_webp_animated(a, 20), 0); /* cut before the flags */
	UT_EQ_INT(media_webp_animated(NULL, 0), 0);
}

static void
test_file_names(void)
{
	static const struct {
		const char *name;
		int         want;
	} cases[] = {
		{ "menu.pdf", 1 },
		{ "menu 2024 (final).pdf", 1 },
		{ "caf\xc3\xa9.png", 1 },
		{ "", 0 },
		{ ".", 0 },
		{ "..", 0 },
		{ "a/b.pdf", 0 },
		{ "a\\b.pdf", 0 },
		{ "a\tb", 0 },
		{ "a\r\nb", 0 },
		{ "a\x7f", 0 },
	};
	char   big[300];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_case("%zu", i);
		UT_EQ_INT(media_file_name_ok(cases[i].name,
		              strlen(cases[i].name)),
		    cases[i].want);
	}
	memset(big, 'a', sizeof(big));
	UT_EQ_INT(media_file_name_ok(big, 255), 1);
	UT_EQ_INT(media_file_name_ok(big, 256), 0);
}

static void
test_upload_ids(void)
{
	static const struct {
		const char *id;
		int         want;
	} cases[] = {
		{ "upload:MTphdHRhY2htZW50Ojlk2mJiZxUwLWV6MDUtNDIwMy05yTA3LWQ4ZDP"
		  "mZGFkNTM0NT8=?sig=ARZqkGCA_uQMxC8nHKI",
		    1 },
		{ "upload:YWJj+/x=", 1 },
		{ "upload:", 0 },
		{ "upload:abc?sig=", 0 },
		{ "upload:abc?sag=x", 0 },
		{ "upload:abc?sig=x&access_token=y", 0 },
		{ "upload:a//b", 0 },
		{ "upload:/abc", 0 },
		{ "upload:abc/", 0 },
		{ "upload:a b", 0 },
		{ "upload:../x", 0 },
		{ "uploadx:abc", 0 },
		{ "123456", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ut_case("%s", cases[i].id);
		UT_EQ_INT(graph_upload_id_ok(cases[i].id), cases[i].want);
	}
	CU_ASSERT_EQUAL(graph_upload_id_ok(NULL), 0);
}

static void
test_oauth_header_and_upload_url(void)
{
	const char *const params[] = { "sig", "AR-x_y", NULL };
	char             *h, *u;

	h = graph_auth_header("OAuth", "EAAtok");
	UT_EQ_STR(h, "Authorization: OAuth EAAtok");
	free(h);
	h = graph_bearer_header("EAAtok");
	UT_EQ_STR(h, "Authorization: Bearer EAAtok");
	free(h);
	CU_ASSERT_PTR_NULL(graph_auth_header("Basic", "EAAtok"));
	CU_ASSERT_PTR_NULL(graph_auth_header("OAuth", "EA\r\nX: y"));
	u = graph_build_url("https://graph.facebook.com", "v25.0",
	    "upload:YWJj+/x=", params);
	UT_EQ_STR(u,
	    "https://graph.facebook.com/v25.0/upload:YWJj+/x=?sig=AR-x_y");
	free(u);
	/* Only an upload session's path may hold ':', '+' or '='. */
	CU_ASSERT_PTR_NULL(graph_build_url("https://graph.facebook.com",
	    "v25.0", "123:456", NULL));
	CU_ASSERT_PTR_NULL(graph_build_url("https://graph.facebook.com",
	    "v25.0", "1=2/media", NULL));
	CU_ASSERT_PTR_NULL(graph_build_url("https://graph.facebook.com",
	    "v25.0", "upload:a/../b", NULL));
}

static const struct ut_test tests[] = { { "Cloud API media types and limits",
	                                    test_cloud_types },
	{ "Resumable Upload types", test_upload_types },
	{ "WebP animation flag", test_webp_animated },
	{ "X-File-Name", test_file_names },
	{ "upload session ids", test_upload_ids },
	{ "OAuth header, upload URL", test_oauth_header_and_upload_url },
	{ NULL, NULL } };

const struct ut_suite ut_suites[] = { { "media", NULL, NULL, NULL, tests },
	{ NULL, NULL, NULL, NULL, NULL } };
