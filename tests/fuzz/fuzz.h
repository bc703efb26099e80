/*
 * What the libFuzzer harnesses share. Each harness is one program
 * (tests/fuzz/run builds them with clang -fsanitize=fuzzer,address,
 * undefined); a broken property is an abort(), which libFuzzer reports
 * as a crash and saves the input of, like any sanitizer finding.
 */
#ifndef WABA_FUZZ_H
#define WABA_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: property broken: %s\n", \
			    __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* A NUL-terminated copy of the input, for the parsers that take C
   strings (a NUL inside ends the string there, as it would for them). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* 1 when the fixed-size field s holds a NUL: a parser never leaves one
   unterminated. */
#define FUZZ_TERMINATED(s) (memchr((s), '\0', sizeof(s)) != NULL)

#endif
