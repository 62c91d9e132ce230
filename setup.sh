#!/bin/bash
# setup.sh: from a fresh Debian 12 to a working luann.
#
#   ./setup.sh          install what is missing, build, train the MNIST example
#   ./setup.sh test     install what is missing (and python3, which the
#                       specs use), build, run every test
#   ./setup.sh deps     only install what is missing
#   ./setup.sh build    install what is missing, build
#   ./setup.sh doc      install what is missing and lua-ldoc, build the API
#                       reference (make doc: build/doc/index.html)
#   ./setup.sh rock     install what is missing and luarocks, then build and
#                       install luann as a rock (luarocks make, as root: into
#                       /usr/local)
#   ./setup.sh checks   also install what the reliability checks need
#                       (make sanitize-test, libfuzz-run, valgrind-test;
#                       .ci/run runs them after ./setup.sh test)
#   ./setup.sh bench    install what the benchmarks need (PyTorch with
#                       OpenBLAS, torchvision, GNU time), build, run
#                       bench/run.sh (make bench; minutes, not seconds)
#
# Installing needs root; as another user it prints the apt-get command to
# run instead. Nothing is downloaded except Debian packages.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential pkg-config        # cc, make
  lua5.4 liblua5.4-dev lua-busted   # Lua, its headers, the test runner
  libblis-dev libblis-openmp-dev    # BLAS (the multithreaded BLIS)
  libclblast-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd  # OpenCL
  zlib1g-dev                        # checkpoints, reading .gz datasets
  libpng-dev                        # luann.image: PNG files (libpng16-16)
  libcairo2-dev                     # luann.plot: line plots (libcairo2)
  libcjson-dev                      # safetensors files: their JSON header (libcjson1)
  libzip-dev                        # .npz files: NumPy's zip archives (libzip4)
  libreadline-dev                   # the REPL's line editing
  openmpi-bin libopenmpi-dev        # luann.distributed: mpirun and Open MPI (make MPI=1)
  dataset-fashion-mnist             # /usr/share/datasets/fashion-mnist
  fortunes                          # /usr/share/games/fortunes: the char_* examples' corpus
  curl                              # datasets' download option (MNIST)
)

# What the tests add (./setup.sh test, checks): spec/image_spec.lua checks
# PNGs with a reader independent of libpng, written in Python on its zlib;
# spec/doc_spec.lua runs LDoc as make doc does; spec/safetensors_spec.lua and
# spec/npy_spec.lua exchange models and arrays with PyTorch and numpy (Debian's,
# at /usr/bin/python3).
TEST_PACKAGES=(
  python3
  lua-ldoc lua5.1       # make doc: the API reference from the doc comments
                        # (ldoc runs on Lua 5.1 or 5.2 through lua-any; its
                        # dependency is also met by lua5.4, which it cannot use)
  python3-torch python3-numpy   # safetensors and .npy round trips
)

# What `./setup.sh doc` adds: LDoc (make doc).
DOC_PACKAGES=(
  lua-ldoc lua5.1
)

# What `./setup.sh rock` adds: LuaRocks, for luann-*.rockspec.
ROCK_PACKAGES=(
  luarocks
)

# What .ci/run's checks add (gcc's ASan and UBSan runtimes come with
# build-essential, for make sanitize-test).
CHECK_PACKAGES=(
  clang                 # libFuzzer harnesses: -fsanitize=fuzzer (mk/libfuzz.mk)
  libclang-rt-14-dev    # clang's libFuzzer, ASan and UBSan runtimes
  libomp-14-dev         # clang's OpenMP, for the core the harnesses link
  llvm                  # llvm-symbolizer: file:line in clang sanitizer reports
  valgrind              # make valgrind-test: memcheck on a training run
)

# What the benchmarks add (./setup.sh bench, make bench): Debian's PyTorch to
# compare against, at its best: OpenBLAS (without it torch's libblas.so.3 is
# BLIS's, on one thread); torchvision for the tutorial as written; GNU time
# for peak RSS.
BENCH_PACKAGES=(
  python3-torch python3-torchvision
  libopenblas0-pthread
  time
)

usage() {
  echo "usage: $0 [deps|build|test|doc|rock|checks|bench]" >&2
  exit 1
}

# Packages of the arguments not installed yet, one per line.
missing_packages() {
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      echo "$p"
    fi
  done
}

# Installs the packages given (default: PACKAGES) that are missing.
install_deps() {
  local missing
  if [ "$#" -eq 0 ]; then set -- "${PACKAGES[@]}"; fi
  mapfile -t missing < <(missing_packages "$@")
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  local cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: missing packages: ${missing[*]}" >&2
    echo "Run as root:  apt-get update && $cmd" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  $cmd </dev/null
}

build() {
  make -j"$(nproc)"
}

# PoCL compiles OpenCL kernels on first use; keeping its cache between runs
# saves minutes in every test run after the first.
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-${HOME:-/tmp}/.cache/luann-pocl}"
mkdir -p "$POCL_CACHE_DIR" 2>/dev/null || true

case "${1:-}" in
"")
  install_deps
  build
  build/luann examples/mnist.lua
  ;;
test)
  install_deps "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  build
  make test
  ;;
deps)
  install_deps
  ;;
doc)
  install_deps "${PACKAGES[@]}" "${DOC_PACKAGES[@]}"
  build
  make doc
  ;;
rock)
  install_deps "${PACKAGES[@]}" "${ROCK_PACKAGES[@]}"
  luarocks --lua-version 5.4 make
  ;;
checks)
  install_deps "${PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${CHECK_PACKAGES[@]}"
  ;;
build)
  install_deps
  build
  ;;
bench)
  install_deps "${PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${BENCH_PACKAGES[@]}"
  build
  make bench
  ;;
*)
  usage
  ;;
esac
