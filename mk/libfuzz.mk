# ---- libFuzzer harnesses for the file readers (fuzz/*_fuzz.c) -------------
# `make libfuzz` builds $(B)/fuzz/<target>_fuzz for each target (ckpt, gz,
# idx, safetensors, npy, npz), linked with the core compiled by clang under ASan and UBSan, without
# OpenCL. `make libfuzz-run LIBFUZZ_SECONDS=60` runs each over a copy of its
# seed corpus fuzz/corpus/<target>/ and fails on any finding; the crashing
# input is left in $(B)/fuzz/findings/<target>/, to be fixed and committed
# to the corpus. LIBFUZZ_SECONDS=0 only replays the corpus.
# Needs Debian's clang (14) and libclang-rt-14-dev, libomp-14-dev.
FUZZ_CC ?= clang
LIBFUZZ_SECONDS ?= 60
# Inputs stay under LIBFUZZ_MAX_LEN bytes, and no reader may ask for more
# than ~1,100 times its input (CKP_MAX_RATIO, IDX_MAX_RATIO): 20000 * 1100
# bytes is 21 MiB (22 with the ckpt harness's header), so a larger single
# malloc is a finding.
LIBFUZZ_MAX_LEN ?= 20000
LIBFUZZ_MALLOC_MB ?= 22
LIBFUZZ_RSS_MB ?= 1024

FUZZ_DIR := $(B)/fuzz
FUZZ_TARGETS := $(patsubst fuzz/%_fuzz.c,%,$(wildcard fuzz/*_fuzz.c))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%_fuzz)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -fopenmp $(WARN) \
               -Wno-pass-failed -Icore $(IMAGE_CFLAGS) $(FORMAT_CFLAGS) $(FUZZ_SAN)
FUZZ_CORE_OBJ := $(patsubst %.c,$(FUZZ_DIR)/%.o,\
  $(filter-out core/ocl_%.c core/backend_opencl.c,$(wildcard core/*.c)))

libfuzz: $(FUZZ_BINS)

$(FUZZ_DIR)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libcore.a: $(FUZZ_CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_DIR)/%_fuzz: fuzz/%_fuzz.c fuzz/fuzz.h $(FUZZ_DIR)/libcore.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_DIR)/libcore.a \
	  -lblis -lz -lm $(IMAGE_LIBS) $(FORMAT_LIBS) -o $@

libfuzz-run: libfuzz
	fuzz/run.sh $(FUZZ_DIR) $(LIBFUZZ_SECONDS) $(LIBFUZZ_MAX_LEN) \
	  $(LIBFUZZ_MALLOC_MB) $(LIBFUZZ_RSS_MB) $(FUZZ_TARGETS)

.PHONY: libfuzz libfuzz-run
-include $(FUZZ_CORE_OBJ:.o=.d)
