# mk/valgrind.mk: a short CPU training run under valgrind's memcheck.
#
#   make valgrind-test                  spec/support/valgrind_train.lua on
#                                       $(B)/luann (a normal build)
#   make valgrind-test VALGRIND_STEPS=n training steps (default 200)
#
# Fails on any memcheck error (invalid read or write, use of uninitialised
# values, bad free) and on definite leaks; "possibly lost" blocks are
# BLIS's per-thread packing buffers, held for the life of the process.
# No suppressions: nothing in this run needs one. OpenMP threads sleep
# instead of spinning (valgrind runs one thread at a time), and freed tensor
# memory goes straight back to libc (LUANN_CPU_CACHE=0), where memcheck sees
# any use after free.

VALGRIND_STEPS ?= 200
VALGRIND = valgrind --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite,indirect --error-exitcode=1

valgrind-test: $(B)/luann
	@if [ "$(strip $(SANITIZE))" = 1 ]; then \
	  echo "valgrind-test: needs a build without SANITIZE=1" >&2; exit 2; fi
	OMP_WAIT_POLICY=passive LUANN_CPU_CACHE=0 $(VALGRIND) $(B)/luann \
	  spec/support/valgrind_train.lua $(VALGRIND_STEPS)

.PHONY: valgrind-test
