/*
 * vault_open (src/vault.h) on a whole key ring file, written as given
 * into a private file of mode 0600. A ring that opens must have a current
 * version that it has, and must encrypt and decrypt a token with it; one
 * that does not must say why in one line that shows no byte of a key:
 * the message names the file and the line, never its contents.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "vault.h"

static char path[64];

static void
write_ring(const uint8_t *data, size_t size)
{
	int fd;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/fuzz-keyring-%ld",
		    (long)getpid());
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	        -1 ||
	    fchmod(fd, 0600) == -1 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault       *v;
	struct vault_box    box = { 0 };
	struct vault_secret out = { 0 };
	char                err[512];
	uint32_t            cur;
	static const char   token[] = "EAAGfuzztoken";

	if (path[0] == '\0' && vault_sodium_init() != 0)
		abort();
	write_ring(data, size);
	err[0] = '\0';
	v = vault_open(path, err, sizeof(err));
	FUZZ_CHECK(FUZZ_TERMINATED(err));
	if (v == NULL) {
		FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		/* A key is 44 base64 characters: none of a line's may show. */
		for (size_t i = 0; i + 16 <= size; i++) {
			const uint8_t *p = data + i;
			size_t         k;

			for (k = 0; k < 16 &&
			     ((p[k] >= 'A' && p[k] <= 'Z') ||
			         (p[k] >= 'a' && p[k] <= 'z') ||
			         (p[k] >= '0' && p[k] <= '9') || p[k] == '+' ||
			         p[k] == '/');
			     k++)
				;
			if (k == 16)
				FUZZ_CHECK(
				    memmem(err, strlen(err), p, 16) == NULL);
		}
		return 0;
	}
	cur = vault_current_version(v);
	FUZZ_CHECK(cur > 0 && vault_has_version(v, cur));
	FUZZ_CHECK(vault_encrypt(v, 7, VAULT_KIND_WABA, token,
	               sizeof(token) - 1, &box, err, sizeof(err)) == 0);
	FUZZ_CHECK(box.key_version == cur);
	FUZZ_CHECK(vault_decrypt(v, 7, VAULT_KIND_WABA, &box, &out, err,
	               sizeof(err)) == 0);
	FUZZ_CHECK(out.len == sizeof(token) - 1 &&
	    memcmp(out.data, token, out.len) == 0);
	vault_secret_free(&out);
	/* Bound to its workspace: another one's key does not open it. */
	FUZZ_CHECK(vault_decrypt(v, 8, VAULT_KIND_WABA, &box, &out, err,
	               sizeof(err)) == -1);
	vault_box_free(&box);
	vault_close(v);
	return 0;
}
