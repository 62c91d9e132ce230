# mk/sanitize.mk: every spec on an AddressSanitizer + UBSan build.
#
#   make sanitize-test     builds build-asan (make SANITIZE=1), the embed
#                          example against it, and runs the whole suite
#   make sanitize-test SPEC=spec/io_spec.lua  some spec files only
#   make sanitize-test SAN_B=dir              another build folder
#
# PoCL compiles each OpenCL kernel on first use and caches it in
# $POCL_CACHE_DIR: the first run on a machine is the slow one (the whole
# suite took 5m39s with a cold cache on 2 shared cores).
#
# lua5.4 is uninstrumented, and luann.so built with SANITIZE=1 needs the
# ASan runtime loaded before anything else. LD_PRELOAD would do it, but
# every child (sh, cc, gzip) would inherit it and LeakSanitizer would
# report their own leaks. So $(SAN_B)/bin/lua5.4 starts the real lua5.4
# through the dynamic loader's --preload, and comes first in PATH: busted
# runs on it, and so do the specs' lua5.4 children. The luann executable
# and the embed host link the runtime themselves. Any ASan, UBSan or
# LeakSanitizer report ends the process that made it with an error, which
# fails its spec (or busted itself). gcc only (its libasan), and glibc 2.33
# or later (ld.so --preload, --argv0).

SAN_B ?= $(if $(filter 1,$(strip $(SANITIZE))),$(B),build-asan)
ASAN_RUNTIME = $(shell gcc -print-file-name=libasan.so)
LDSO ?= $(firstword $(wildcard /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-*.so.*))
LUA_BIN := $(shell command -v $(LUA))

# allocator_may_return_null, max_allocation_size_mb: a huge allocation
#   returns NULL (luann raises "out of memory") instead of ASan aborting;
#   spec/robustness_spec.lua's children rely on it (their ulimit -v is off:
#   ASan maps terabytes of shadow).
# detect_leaks: LeakSanitizer at every exit, mk/lsan.supp for PoCL/LLVM.
# intercept_tls_get_addr=0: gcc 12's runtime (up to gcc 13 and LLVM 16)
#   takes some dynamic TLS blocks (PoCL's, once OpenCL is up) for a glibc
#   2.19 layout and hands LSan a bogus range, and its tracer dies at exit
#   ("Tracer caught signal 11", google/sanitizers#1322): 5 of 24
#   robustness children in one run. Static TLS is still scanned.
SAN_ENV = PATH=$(abspath $(SAN_B))/bin:$$PATH \
  ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=2048:detect_leaks=1:intercept_tls_get_addr=0:abort_on_error=0:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/mk/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LUANN_BUILD=$(SAN_B) LUANN_ROBUST_EXE=$(SAN_B)/luann LUANN_ROBUST_MEMORY_KB=0

sanitize-build:
	$(MAKE) SANITIZE=1 B=$(SAN_B) all
	$(MAKE) -C examples/embed LUANN=$(CURDIR) B=$(abspath $(SAN_B))

sanitize-test: sanitize-build $(SAN_B)/bin/$(LUA)
	$(SAN_ENV) $(LUA) /usr/bin/busted $(SPEC)

# --argv0: the specs that start "the interpreter running them" (arg[-1])
# start this script again, not the bare lua5.4.
$(SAN_B)/bin/$(LUA): mk/sanitize.mk
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec %s --preload %s --argv0 "$$0" %s "$$@"\n' \
	  '$(LDSO)' '$(ASAN_RUNTIME)' '$(LUA_BIN)' > $@
	chmod +x $@

.PHONY: sanitize-build sanitize-test
