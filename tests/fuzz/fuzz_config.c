/*
 * config_parse (src/config.h) on a whole configuration file. A file that
 * loads must give a struct whose promised invariants hold; one that does
 * not must say why in one line.
 *
 * The *_file keys name a file whose first line is read: the fuzzer could
 * point one at /dev/stdin or a FIFO and block, and reading is not what is
 * under test here, so inputs naming them are skipped.
 */
#include "config.h"
#include "fuzz.h"

#define MAX_FILE_KEYS 3

static const char *const file_keys[MAX_FILE_KEYS] = { "password_file",
	"app_secret_file", "webhook_verify_token_file" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	char          *text, err[1024];
	size_t         i;

	text = fuzz_cstr(data, size);
	for (i = 0; i < MAX_FILE_KEYS; i++)
		if (strstr(text, file_keys[i]) != NULL) {
			free(text);
			return 0;
		}
	err[0] = '\0';
	c = config_parse("fuzz.conf", text, err, sizeof(err));
	FUZZ_CHECK(FUZZ_TERMINATED(err));
	if (c == NULL) {
		FUZZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0);
		FUZZ_CHECK(strchr(err, '\n') == NULL);
	} else {
		FUZZ_CHECK(c->base_url != NULL && c->db_user != NULL &&
		    c->key_ring_file != NULL && c->app_id != NULL &&
		    c->app_secret != NULL && c->webhook_verify_token != NULL);
		FUZZ_CHECK(
		    strspn(c->app_id, "0123456789") == strlen(c->app_id));
		FUZZ_CHECK((c->db_host == NULL) != (c->db_socket == NULL));
		FUZZ_CHECK(c->workers >= 1 && c->workers <= 256);
		FUZZ_CHECK(c->graph_version[0] == 'v');
		FUZZ_CHECK(strlen(c->control_db) <= 48);
		/* No trailing slash (config.h). */
		FUZZ_CHECK(c->base_url[0] != '\0' &&
		    c->base_url[strlen(c->base_url) - 1] != '/');
		(void)config_url_is_loopback(c->graph_base_url);
	}
	config_free(c);
	(void)config_url_is_loopback(text);
	free(text);
	return 0;
}
