# Builds the libFuzzer harnesses with clang; tests/fuzz/run drives it and
# passes SRCS (libwaba's .c files, as Makefile.am lists them), PKG_CFLAGS
# and PKG_LIBS (what configure finds with pkg-config). Objects go to
# tests/out/fuzz/build; -MMD keeps rebuilds incremental.
CC = clang
OUT = tests/out/fuzz/build
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer $(SAN)
# As Makefile.am's AM_CPPFLAGS; no template is ever read from disk here.
CPPFLAGS = -D_GNU_SOURCE -Isrc -DTEMPLATE_DIR='"/nonexistent"' $(PKG_CFLAGS)
HARNESS_WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Werror

HARNESSES = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
LIBOBJS = $(SRCS:%.c=$(OUT)/%.o)

all: $(HARNESSES:%=$(OUT)/%)

$(OUT)/libwaba-fuzz.a: $(LIBOBJS)
	rm -f $@
	ar rc $@ $(LIBOBJS)

$(OUT)/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
	    -c -o $@ $<

$(OUT)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(HARNESS_WARN) -fsanitize=fuzzer-no-link \
	    -MMD -MP -c -o $@ $<

$(OUT)/fuzz_%: $(OUT)/tests/fuzz/fuzz_%.o $(OUT)/libwaba-fuzz.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

-include $(LIBOBJS:.o=.d) $(HARNESSES:%=$(OUT)/tests/fuzz/%.d)
