/*
 * shm: the shared memory the pool's processes count in (shm.h); one
 * place for the named object's checks, which decide whether another
 * user could steer our Meta call slots or feed our metrics.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm.h"

void *
shm_anon(const char *what, size_t size, char *err, size_t errlen)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: shared memory: %s", what,
		    strerror(errno));
		return NULL;
	}
	return p;
}

/* FNV-1a: a short, stable name for a path; not a secret, not security. */
static unsigned long
shm_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static void *
shm_open_named(const char *what, const char *fmt, const char *config_path,
    size_t size, int create, char *err, size_t errlen)
{
	char        name[96], *real;
	struct stat st;
	void       *p = NULL;
	int         fd;

	if ((real = realpath(config_path, NULL)) == NULL) {
		snprintf(err, errlen, "%s: %s: %s", what, config_path,
		    strerror(errno));
		return NULL;
	}
	/* fmt is one of our constants, never input. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(name, sizeof(name), fmt, (unsigned long)geteuid(),
	    shm_hash(real));
#pragma GCC diagnostic pop
	free(real);
	if ((fd = shm_open(name, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0),
	         0600)) == -1) {
		int e = errno;

		snprintf(err, errlen, "%s: shm_open %s: %s", what, name,
		    strerror(e));
		errno = e;
		return NULL;
	}
	/* Someone else's object under our name could steer or fool us. */
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		    "%s: /dev/shm%s is not ours alone (owner or mode)", what,
		    name);
		errno = EPERM;
		goto out;
	}
	/* Growing zero-fills: two processes doing it at once agree. */
	if (st.st_size < (off_t)size && ftruncate(fd, (off_t)size) == -1) {
		snprintf(err, errlen, "%s: %s: %s", what, name,
		    strerror(errno));
		goto out;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap %s: %s", what, name,
		    strerror(errno));
		p = NULL;
	}
out:
	close(fd);
	return p;
}

void *
shm_named(const char *what, const char *fmt, const char *config_path,
    size_t size, char *err, size_t errlen)
{
	return shm_open_named(what, fmt, config_path, size, 1, err, errlen);
}

void *
shm_named_existing(const char *what, const char *fmt, const char *config_path,
    size_t size, char *err, size_t errlen)
{
	return shm_open_named(what, fmt, config_path, size, 0, err, errlen);
}
