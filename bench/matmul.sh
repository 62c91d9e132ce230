#!/bin/sh
# bench/matmul.sh: luann's float32 matmul (through the Lua API) beside BLIS
# called directly and PyTorch, at the same thread count.
#
#   sh bench/matmul.sh            (after `make`; B=/tmp/build-x for another build)
#   THREADS=1 ROUNDS=5 sh bench/matmul.sh
#
# Each round runs every size through luann, BLIS and PyTorch in turn, each
# reporting the median of SAMPLES samples; the table shows the median over
# ROUNDS rounds and the ratios. Direct BLIS uses the sub-configuration luann
# picked (shown in the header). The machine may be shared: compare ratios
# from one run, not absolute numbers across runs.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
THREADS=${THREADS:-$(nproc)}
SAMPLES=${SAMPLES:-5}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-"64x784x128 512x512x512 2048x2048x2048"}
LUANN="$B/luann"
[ -x "$LUANN" ] || { echo "matmul.sh: $LUANN not found; run make first" >&2; exit 1; }
mkdir -p "$B/bench"
cc -std=gnu11 -O2 -Wall bench/matmul_blis.c -o "$B/bench/matmul_blis" -lblis -lm -fopenmp

# the sub-configuration luann chose (BLIS logs it when asked)
ARCH=$(BLIS_ARCH_DEBUG=1 "$LUANN" -e 'luann.matmul(luann.zeros(2, 2), luann.zeros(2, 2))' 2>&1 |
  sed -n "s/.*sub-configuration '\([a-z0-9]*\)'.*/\1/p" | head -n 1)
[ -n "$ARCH" ] || { echo "matmul.sh: could not learn luann's BLIS sub-configuration" >&2; exit 1; }

TORCH_BENCH='
import sys, time, statistics, torch
threads, samples = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
for size in sys.argv[3:]:
    m, k, n = map(int, size.split("x"))
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.matmul(a, b)
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps): torch.matmul(a, b)
        t = time.perf_counter() - t0
        if t > 0.05: break
        reps *= 4
    reps = max(1, int(reps * 0.2 / t) + 1)
    rates = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(reps): torch.matmul(a, b)
        rates.append(2.0 * m * n * k * reps / (time.perf_counter() - t0) * 1e-9)
    print(size, "%.2f" % statistics.median(rates))
'

RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
for round in $(seq "$ROUNDS"); do
  for size in $SIZES; do
    dims=$(echo "$size" | tr x ' ')
    echo "$size luann $("$LUANN" bench/matmul.lua $dims "$THREADS" "$SAMPLES")" >> "$RAW"
    echo "$size blis $("$B/bench/matmul_blis" $dims "$THREADS" "$SAMPLES" "$ARCH" 2>/dev/null)" >> "$RAW"
  done
  if env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 -c "$TORCH_BENCH" \
      "$THREADS" "$SAMPLES" $SIZES | sed 's/ / torch /' >> "$RAW"
  fi
done

echo "matmul float32 GFLOP/s, median of $ROUNDS rounds x $SAMPLES samples;" \
  "$THREADS thread(s); BLIS sub-configuration $ARCH; $(date -u +%Y-%m-%d)"
printf '%-16s %9s %9s %9s %11s %12s\n' "m x k x n" luann BLIS torch luann/BLIS luann/torch
for size in $SIZES; do
  med() { awk -v s="$size" -v w="$1" '$1 == s && $2 == w { print $3 }' "$RAW" |
    sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
  l=$(med luann) b=$(med blis) t=$(med torch)
  awk -v s="$size" -v l="$l" -v b="$b" -v t="$t" 'BEGIN {
    printf "%-16s %9s %9s %9s %11s %12s\n", s, l, b, t,
      (b + 0 > 0 ? sprintf("%.2f", l / b) : "-"), (t + 0 > 0 ? sprintf("%.2f", l / t) : "-") }'
done
