#!/bin/sh
# bench/opencl.sh: luann on an OpenCL device beside the CPU: GEMM GFLOP/s,
# elementwise bandwidth, the MNIST tutorial's training step time
# (bench/opencl.lua), then the tutorial itself (examples/mnist.lua) for
# EPOCHS epochs on both devices: epoch time and test accuracy.
#
#   sh bench/opencl.sh                 (after `make`; B=/tmp/build-x for another build)
#   GEMM=2048 ELEMS=67108864 EPOCHS=0 DEVICE=opencl:1 sh bench/opencl.sh
#
# The machine may be shared: compare the two columns of one run.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
GEMM=${GEMM:-4096}
ELEMS=${ELEMS:-268435456}
EPOCHS=${EPOCHS:-1}
DEVICE=${DEVICE:-opencl}
LUANN="$B/luann"
[ -x "$LUANN" ] || { echo "opencl.sh: $LUANN not found; run make first" >&2; exit 1; }

echo "luann OpenCL benchmark, $(date -u +%Y-%m-%d), $(nproc) CPU cores"
"$LUANN" bench/opencl.lua --gemm "$GEMM" --elems "$ELEMS" --device "$DEVICE"
if [ "$EPOCHS" -gt 0 ]; then
  echo "examples/mnist.lua, $EPOCHS epoch(s), batch 64, SGD lr 0.01:"
  for dev in "$DEVICE" cpu; do
    "$LUANN" examples/mnist.lua --epochs "$EPOCHS" --device "$dev" --no-progress |
      awk -v d="$dev" '/^Epoch times/ { t = $4 } /^Test accuracy/ { a = $3 }
        END { printf "  %-10s epoch %s s, test accuracy %s\n", d, t, a }'
  done
fi
