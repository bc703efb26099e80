/*
 * The config's *_file keys (src/config.h): app_secret_file names a file
 * whose first line is the secret; the input is that file, whole. A file
 * that loads gives a non-empty secret of one line with no control
 * character in it (a CRLF file's CR is not part of it); one that does not
 * says why in one line that does not quote the file.
 */
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char path[64], conf[1024];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	char           err[1024];
	const char    *why;
	int            fd;
	size_t         i, line;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/fuzz-secret-%ld",
		    (long)getpid());
		snprintf(conf, sizeof(conf),
		    "[server]\nbase_url = http://127.0.0.1:8080\n"
		    "[database]\nuser = waba\n"
		    "[crypto]\nkey_ring_file = /tmp/k\n"
		    "[meta]\napp_id = 1234\napp_secret_file = %s\n"
		    "webhook_verify_token = vt\n",
		    path);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	        -1 ||
	    write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	err[0] = '\0';
	c = config_parse("fuzz.conf", conf, err, sizeof(err));
	FUZZ_CHECK(FUZZ_TERMINATED(err));
	for (line = 0; line < size && data[line] != '\n'; line++)
		;
	if (c == NULL) {
		FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		/*
		 * Never the secret: no 8 bytes of its line in what the
		 * message says after naming the key and the file.
		 */
		why = strstr(err, path);
		why = why ? why + strlen(path) : err;
		for (i = 0; i + 8 <= line; i++)
			FUZZ_CHECK(
			    memmem(why, strlen(why), data + i, 8) == NULL);
		return 0;
	}
	FUZZ_CHECK(c->app_secret != NULL && c->app_secret[0] != '\0');
	for (i = 0; c->app_secret[i]; i++)
		FUZZ_CHECK((unsigned char)c->app_secret[i] >= 0x20 &&
		    c->app_secret[i] != 0x7f);
	FUZZ_CHECK(strlen(c->app_secret) <= line);
	FUZZ_CHECK(memcmp(c->app_secret, data, strlen(c->app_secret)) == 0);
	config_free(c);
	return 0;
}
