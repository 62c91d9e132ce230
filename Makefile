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
# MPI=1 builds luann.distributed's C module $(B)/luann_mpi.so against Open
# MPI (the only file that links libmpi); by default when pkg-config finds
# ompi-c, MPI=0 never
MPI ?= $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo y),1,0)
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
     $(B)/luann.pc $(if $(filter 1,$(strip $(MPI))),$(B)/luann_mpi.so)

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

# luann.docs: the doc comments of the Lua and C sources, for help(x) in the
# REPL and for spec/doc_spec.lua
DOC_SRC := $(LUA_SRC) $(BIND_SRC)
$(B)/gen/docs/luann/docs.lua: $(DOC_SRC) bindings/docindex.lua
	@mkdir -p $(dir $@)
	$(LUA) bindings/docindex.lua $@ $(DOC_SRC)

$(B)/gen/lua_modules.c: $(LUA_SRC) $(B)/gen/docs/luann/docs.lua bindings/embed.lua
	@mkdir -p $(B)/gen
	$(LUA) bindings/embed.lua $@ ln_lua_modules "lua/ $(B)/gen/docs/" .lua \
	  $(LUA_SRC) $(B)/gen/docs/luann/docs.lua

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

# luann_mpi: found as luann_mpi.so beside luann.so (package.cpath) or the
# luann executable (bindings/main.c); luann's own symbols are reached
# through luann.core's _c_api table, not linked.
MPI_CFLAGS = $(shell pkg-config --cflags ompi-c)
MPI_LIBS = $(shell pkg-config --libs ompi-c)
$(B)/luann_mpi.so: bindings/mpi/lmpi.c bindings/luann.h core/luann_core.h
	@mkdir -p $(B)
	$(CC) $(CFLAGS) $(MPI_CFLAGS) -shared -o $@ $< $(MPI_LIBS) -ldl $(SAN_FLAGS)

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
HEADERS = core/luann_core.h core/luann_io.h core/luann_nn.h core/luann_formats.h bindings/luann.h
# the Lua sources, relative to lua/ (installed for reading: the module
# carries its own copy)
LUA_REL = $(LUA_SRC:lua/%=%)
MAN1 = $(DESTDIR)$(PREFIX)/share/man/man1
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/luann \
	  $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION) \
	  $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION) $(MAN1)
	install -m 755 $(B)/luann $(DESTDIR)$(PREFIX)/bin/luann
	install -m 644 $(B)/libluann.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libluann.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/luann.so $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/luann.so
	if [ -f $(B)/luann_mpi.so ]; then install -D -m 755 $(B)/luann_mpi.so \
	  $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/luann_mpi.so; fi
	install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/luann/
	$(call write_pc,$(PREFIX),$(DESTDIR)$(PREFIX)/lib/pkgconfig/luann.pc)
	install -m 644 man/luann.1 $(MAN1)/luann.1
	cd lua && for f in $(LUA_REL); do \
	  install -D -m 644 $$f $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/$$f || exit 1; done

# Removes exactly what install put there, then the folders of luann's own
# that are left empty (never bin/, lib/ and the like).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/luann $(DESTDIR)$(PREFIX)/lib/libluann.a \
	  $(DESTDIR)$(PREFIX)/lib/libluann.so \
	  $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/luann.so \
	  $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/luann_mpi.so \
	  $(addprefix $(DESTDIR)$(PREFIX)/include/luann/,$(notdir $(HEADERS))) \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/luann.pc $(MAN1)/luann.1
	@echo "rm -f the Lua sources in $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/luann"
	@cd $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION) 2>/dev/null && rm -f $(LUA_REL); true
	-rmdir $(DESTDIR)$(PREFIX)/include/luann 2>/dev/null
	-find $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/luann -depth -type d \
	  -empty -delete 2>/dev/null

# LuaRocks (luann-*.rockspec, `luarocks --lua-version 5.4 make`): the module
# into the rock's LIBDIR, the executable into its BINDIR, the Lua sources
# (for reading) into its LUADIR.
install-rock: all
	install -d $(LIBDIR) $(BINDIR) $(LUADIR)
	install -m 755 $(B)/luann.so $(LIBDIR)/luann.so
	if [ -f $(B)/luann_mpi.so ]; then install -m 755 $(B)/luann_mpi.so $(LIBDIR)/luann_mpi.so; fi
	install -m 755 $(B)/luann $(BINDIR)/luann
	cd lua && for f in $(LUA_REL); do \
	  install -D -m 644 $$f $(LUADIR)/$$f || exit 1; done

# ---- documentation ----------------------------------------------------------
# The API reference, from the LDoc comments of lua/luann and bindings/*.c
# (config.ld), in $(B)/doc (Debian's lua-ldoc).
doc:
	@mkdir -p $(B)/doc
	ldoc -q -d $(B)/doc .
	@echo "the reference: $(B)/doc/index.html"

clean:
	rm -rf $(B)

.PHONY: all test bench install uninstall install-rock doc clean

# Checks beyond `make test` (sanitizers, fuzzers, valgrind), one file each.
include $(sort $(wildcard mk/*.mk))
-include $(LIB_OBJ:.o=.d) $(B)/bindings/main.d
