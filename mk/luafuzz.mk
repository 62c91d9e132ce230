# ---- the Lua-level fuzzer (spec/fuzz.lua) ----------------------------------
# `make fuzz-ci` replays the corpus spec/fuzz_corpus/*.lua (scripts that
# crashed luann once; each must exit with status 0), then runs the fixed
# seeds LUAFUZZ_SEEDS, LUAFUZZ_CALLS random calls each (damaged checkpoint,
# IDX, PNG, safetensors and .npy files among them), LUAFUZZ_JOBS children at a time: 320,000
# calls and 26,000 files in about 100 s on 2 shared cores. A crash, hang or
# blow-up fails it, with the seed and the minimal call sequence as a script.
# It prints the calls made and the files tried. A seed draws the same calls
# while spec/robustness/ and the API stay the same (a new op changes what
# the seeds draw); the corpus scripts are what stays pinned.
# `make fuzz FUZZ_SECONDS=N` explores fresh seeds for N seconds and writes
# each new finding as a script into LUAFUZZ_CORPUS: commit it once fixed.
# With SANITIZE=1 both run on the ASan + UBSan build ($(B)/luann links the
# runtime): a memory error is a finding even where it would not crash. The
# children then get no ulimit -v (ASan maps terabytes of shadow) but ASan's
# own cap on one allocation, and LeakSanitizer at exit (mk/lsan.supp).
FUZZ_SECONDS ?= 300
LUAFUZZ_SEEDS ?= 1-800
LUAFUZZ_CALLS ?= 400
LUAFUZZ_JOBS ?= 2
LUAFUZZ_CORPUS ?= spec/fuzz_corpus
LUAFUZZ_ENV = FUZZ_CALLS=$(LUAFUZZ_CALLS) FUZZ_JOBS=$(LUAFUZZ_JOBS) \
  FUZZ_CORPUS=$(LUAFUZZ_CORPUS) FUZZ_MEMORY_KB=$(LUAFUZZ_MEMORY_KB)
ifeq ($(strip $(SANITIZE)),1)
LUAFUZZ_MEMORY_KB ?= 0
LUAFUZZ_ENV += \
  ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=2048:detect_leaks=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/mk/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
LUAFUZZ_MEMORY_KB ?= 4194304
endif

fuzz-ci: $(B)/luann
	$(LUAFUZZ_ENV) FUZZ_SEEDS=$(LUAFUZZ_SEEDS) $(B)/luann spec/fuzz.lua ci

fuzz: $(B)/luann
	$(LUAFUZZ_ENV) $(B)/luann spec/fuzz.lua explore $(FUZZ_SECONDS)

.PHONY: fuzz fuzz-ci
