# luann: a deep learning engine with a C core and Lua 5.4 as its language.
# `make` builds $(B)/luann (the executable), $(B)/luann.so (the Lua module),
# $(B)/libluann.a and $(B)/libluann.so (for host programs); `make test` runs
# every spec, `make bench` the benchmark suite. See README.md.

# ---- settings -------------------------------------------------------------
PREFIX ?= /usr/local
# OPENCL=0 builds without the OpenCL backend
OPENCL ?= 1
CC ?= cc
LUA ?= lua5.4
OPT ?= -O2
# SANITIZE=1 builds everything (objects, libraries, executables, the embed
# example) with AddressSanitizer and UBSan, in build-asan unless B says
# otherwise; `make sanitize-test` runs every spec on it (mk/sanitize.mk).
SANITIZE ?= 0
ifeq ($(strip $(SANITIZE)),1)
B ?= build-asan
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
endif
# the build folder (parallel work and sanitizer builds use others)
B ?= build

WARN = -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS = -std=gnu11 $(OPT) -g -fPIC -fopenmp $(WARN) \
         -Icore -Ibindings -I$(B)/gen $(shell pkg-config --cflags lua5.4) \
         -DCL_TARGET_OPENCL_VERSION=120 $(SAN_FLAGS) $(EXTRA_CFLAGS)
# PNG files (libpng) and plots (cairo); the names Debian's packages give
# them where pkg-config is missing
IMAGE_CFLAGS := $(shell pkg-config --cflags libpng cairo 2>/dev/null || \
                  echo -I/usr/include/libpng16 -I/usr/include/cairo)
IMAGE_LIBS := $(shell pkg-config --libs libpng cairo 2>/dev/null || \
                echo -lpng16 -lcairo)
CFLAGS += $(IMAGE_CFLAGS)
# Other programs' tensor files: safetensors' JSON header (cJSON) and .npz
# archives (libzip)
FORMAT_CFLAGS := $(shell pkg-config --cflags libcjson libzip 2>/dev/null || \
                   echo -I/usr/include/cjson)
FORMAT_LIBS := $(shell pkg-config --libs libcjson libzip 2>/dev/null || \
                 echo -lcjson -lzip)
CFLAGS += $(FORMAT_CFLAGS)
# SAN_FLAGS link too: luann.pc passes LDLIBS on to programs that embed us
LDLIBS = -lblis -lz -lm -fopenmp $(IMAGE_LIBS) $(FORMAT_LIBS) $(SAN_FLAGS)
LUA_LIBS = $(shell pkg-config --libs lua5.4)

ifeq ($(strip $(OPENCL)),1)
CFLAGS += -DLN_WITH_OPENCL
LDLIBS += -lclblast -lOpenCL
endif

# ---- sources, one list per layer ------------------------------------------
CORE_SRC := $(wildcard core/*.c)
ifneq ($(strip $(OPENCL)),1)
CORE_SRC := $(filter-out core/ocl_%.c core/backend_opencl.c,$(CORE_SRC))
endif
BIND_SRC := $(filter-out bindings/main.c,$(wildcard bindings/*.c))
LUA_SRC := $(shell find lua -name '*.lua' | sort)
CL_SRC := $(wildcard kernels/*.cl)

# The CPU's loop kernels, compiled once per instruction set and picked at
# run time by core/cpu_isa.c (never tuned to the build machine: a build runs on any
# x86-64). At -O3: -O2 vectorizes almost no loop of unknown length, and
# unswitching lets loops with invariant branches vectorize. No FMA
# contraction, so every ISA computes the same elementwise results; no errno
# from sqrt, whose check is a branch that stops a loop from vectorizing.
CPU_ISA_SRC := core/cpu_copy.c core/cpu_pointwise.c core/cpu_reduce.c \
               core/cpu_optim.c
ifeq ($(shell uname -m),x86_64)
CPU_ISAS := generic avx2 avx512
else
CPU_ISAS := generic
endif
ISA_FLAGS_avx2 := -mavx2 -mfma -mf16c -mbmi -mbmi2
ISA_FLAGS_avx512 := $(ISA_FLAGS_avx2) -mavx512f -mavx512bw -mavx512dq \
                    -mavx512vl -mprefer-vector-width=512
VEC_FLAGS := -O3 -ffp-contract=off -fno-math-errno
CORE_SRC := $(filter-out $(CPU_ISA_SRC),$(CORE_SRC))
CPU_ISA_OBJ := $(foreach i,$(CPU_ISAS),$(CPU_ISA_SRC:core/%.c=$(B)/core/isa_$(i)/%.o))

CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o) $(CPU_ISA_OBJ)
BIND_OBJ := $(BIND_SRC:%.c=$(B)/%.o)
GEN_OBJ := $(B)/gen/lua_modules.o $(B)/gen/cl_kernels.o
LIB_OBJ := $(CORE_OBJ) $(BIND_OBJ) $(GEN_OBJ)

all: $(B)/luann $(B)/luann.so $(B)/libluann.a $(B)/libluann.so \
     $(B)/luann.pc

$(B)/%.o: %.c | $(B)/gen/lua_modules.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

define cpu_isa_rule
$(B)/core/isa_$(1)/%.o: core/%.c | $(B)/gen/lua_modules.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(VEC_FLAGS) $$(ISA_FLAGS_$(1)) -DLN_CPU_ISA=$(1) -MMD -MP -c $$< -o $$@
endef
$(foreach i,$(CPU_ISAS),$(eval $(call cpu_isa_rule,$(i))))
ifneq ($(CPU_ISAS),generic)
$(B)/core/cpu_isa.o: CFLAGS += -DLN_CPU_ISA_DISPATCH
endif

$(B)/gen/lua_modules.c: $(LUA_SRC) bindings/embed.lua
	@mkdir -p $(B)/gen
	$(LUA) bindings/embed.lua $@ ln_lua_modules lua/ .lua $(LUA_SRC)

$(B)/gen/cl_kernels.c: $(CL_SRC) bindings/embed.lua
	@mkdir -p $(B)/gen
	$(LUA) bindings/embed.lua $@ ln_cl_kernels kernels/ .cl $(CL_SRC)

$(B)/libluann.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# nodelete: lua_close unloads the module, which would unmap libgomp under
# its idle worker threads (a segfault at exit after any parallel op).
$(B)/libluann.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-z,nodelete -o $@ $^ $(LDLIBS)

# The Lua module: the same objects; Lua's symbols come from the host.
$(B)/luann.so: $(B)/libluann.so
	cp $< $@

$(B)/luann: $(B)/bindings/main.o $(B)/libluann.a
	$(CC) -o $@ $^ $(LDLIBS) $(LUA_LIBS) -lreadline -Wl,-E

# pkg-config file for prefix $(1), written to $(2)
write_pc = printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: luann\nDescription: deep learning engine with a Lua 5.4 face\nVersion: 0.1.0\nRequires.private: lua5.4\nCflags: -I$${includedir}/luann\nLibs: -L$${libdir} -lluann\nLibs.private: %s\n' '$(1)' '$(LDLIBS)' > $(2)

$(B)/luann.pc: Makefile
	@mkdir -p $(B)
	$(call write_pc,$(PREFIX),$@)

# ---- tests ------------------------------------------------------------------
BUSTED = $(LUA) /usr/bin/busted

test: all
	$(MAKE) -C examples/embed LUANN=$(CURDIR) B=$(abspath $(B))
	LUANN_BUILD=$(B) $(BUSTED)

# ---- benchmarks ---------------------------------------------------------------
# luann against PyTorch on this CPU (bench/run.sh: ROUNDS, QUICK=1; ./setup.sh
# bench installs PyTorch). BENCH_FLAGS=--write records it in bench/RESULTS.md.
bench: all
	B=$(B) sh bench/run.sh $(BENCH_FLAGS)

# ---- install ----------------------------------------------------------------
LUA_VERSION = 5.4
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/luann \
	  $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION) \
	  $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)
	install -m 755 $(B)/luann $(DESTDIR)$(PREFIX)/bin/luann
	install -m 644 $(B)/libluann.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libluann.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/luann.so $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/luann.so
	install -m 644 core/luann_core.h core/luann_io.h core/luann_nn.h core/luann_formats.h bindings/luann.h $(DESTDIR)$(PREFIX)/include/luann/
	$(call write_pc,$(PREFIX),$(DESTDIR)$(PREFIX)/lib/pkgconfig/luann.pc)
	cd lua && find luann -name '*.lua' -exec install -D -m 644 {} \
	  $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/{} \;

clean:
	rm -rf $(B)

.PHONY: all test bench install clean

# Checks beyond `make test` (sanitizers, fuzzers, valgrind), one file each.
include $(sort $(wildcard mk/*.mk))
-include $(LIB_OBJ:.o=.d) $(B)/bindings/main.d
