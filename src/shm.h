#ifndef WABA_SHM_H
#define WABA_SHM_H

#include <stddef.h>

/*
 * Shared memory for the counters that every process of one installation
 * shares (meta_gate.c's call slots, metrics.c's counters), zero-filled.
 *
 * shm_anon: for a standalone pool, whose workers are its children.
 * shm_named: for workers a web server spawns, which share nothing else:
 * a POSIX object named from fmt ("%lu" the effective uid, then "%08lx"
 * a hash of the config file's real path), made 0600 and refused when
 * someone else owns it or others may open it. what starts each error.
 * Both return NULL with err set. shm_named_existing: only an object
 * that is there already (NULL with errno ENOENT when there is none), for
 * a short-lived process that adds to the counters of a running one.
 */
void *shm_anon(const char *what, size_t size, char *err, size_t errlen);
void *shm_named(const char *what, const char *fmt, const char *config_path,
    size_t size, char *err, size_t errlen);
void *shm_named_existing(const char *what, const char *fmt,
    const char *config_path, size_t size, char *err, size_t errlen);

#endif
