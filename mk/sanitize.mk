# mk/sanitize.mk: every spec on an AddressSanitizer + UBSan build.
#
#   make sanitize-test     builds build-asan (make SANITIZE=1), the embed
#                          example against it, and runs the whole suite
#   make sanitize-test SAN_B=dir              another build folder
#   make sanitize-test POCL_CACHE_DIR=dir     another PoCL kernel cache
#
# busted is an uninstrumented lua5.4 that dlopens an instrumented luann.so,
# so the ASan runtime must be loaded first. The dynamic loader's --preload
# does that for busted alone: LD_PRELOAD would be inherited by every child
# (sh, cc, gzip), whose own leaks LeakSanitizer would then report. The
# children that matter (the luann executable, the embed host) are linked
# with the runtime, and inherit the options below. Any ASan, UBSan or
# LeakSanitizer report ends the process that made it with an error, which
# fails its spec (or busted itself). gcc only: its libasan.

SAN_B ?= $(if $(filter 1,$(strip $(SANITIZE))),$(B),build-asan)
ASAN_RUNTIME = $(shell gcc -print-file-name=libasan.so)
LDSO ?= $(firstword $(wildcard /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-*.so.*))

# allocator_may_return_null, max_allocation_size_mb: a huge allocation
#   returns NULL (luann raises "out of memory") instead of ASan aborting;
#   spec/robustness_spec.lua's children rely on it (their ulimit -v is off:
#   ASan maps terabytes of shadow).
# detect_leaks: LeakSanitizer at every exit, mk/lsan.supp for PoCL/LLVM.
SAN_ENV = ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=2048:detect_leaks=1:abort_on_error=0:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/mk/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LUANN_BUILD=$(SAN_B) LUANN_ROBUST_EXE=$(SAN_B)/luann LUANN_ROBUST_MEMORY_KB=0

sanitize-build:
	$(MAKE) SANITIZE=1 B=$(SAN_B) all
	$(MAKE) -C examples/embed LUANN=$(CURDIR) B=$(abspath $(SAN_B))

sanitize-test: sanitize-build
	$(SAN_ENV) $(LDSO) --preload $(ASAN_RUNTIME) $(shell command -v $(LUA)) \
	  /usr/bin/busted $(SPEC)

.PHONY: sanitize-build sanitize-test
