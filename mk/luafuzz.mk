# ---- the Lua-level fuzzer (spec/fuzz.lua) ----------------------------------
# `make fuzz-ci` replays the corpus spec/fuzz_corpus/*.lua (scripts that
# crashed luann once; each must exit with status 0), then runs the fixed
# seeds LUAFUZZ_SEEDS, LUAFUZZ_CALLS random calls each (damaged checkpoint
# and IDX files among them), LUAFUZZ_JOBS children at a time: about 2
# minutes on 2 cores. A crash, hang or blow-up fails it, with the seed and
# the minimal call sequence as a script. It prints the calls made and the
# files tried.
# `make fuzz FUZZ_SECONDS=N` explores fresh seeds for N seconds and writes
# each new finding as a script into LUAFUZZ_CORPUS: commit it once fixed.
# LUAFUZZ_MEMORY_KB is each child's ulimit -v (0 lifts it, for ASan builds).
FUZZ_SECONDS ?= 300
LUAFUZZ_SEEDS ?= 1-300
LUAFUZZ_CALLS ?= 400
LUAFUZZ_JOBS ?= 2
LUAFUZZ_CORPUS ?= spec/fuzz_corpus
LUAFUZZ_MEMORY_KB ?= 4194304
LUAFUZZ_ENV = FUZZ_CALLS=$(LUAFUZZ_CALLS) FUZZ_JOBS=$(LUAFUZZ_JOBS) \
  FUZZ_CORPUS=$(LUAFUZZ_CORPUS) FUZZ_MEMORY_KB=$(LUAFUZZ_MEMORY_KB)

fuzz-ci: $(B)/luann
	$(LUAFUZZ_ENV) FUZZ_SEEDS=$(LUAFUZZ_SEEDS) $(B)/luann spec/fuzz.lua ci

fuzz: $(B)/luann
	$(LUAFUZZ_ENV) $(B)/luann spec/fuzz.lua explore $(FUZZ_SECONDS)

.PHONY: fuzz fuzz-ci
