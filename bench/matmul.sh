#!/bin/sh
# bench/matmul.sh: luann's float32 matmul (through the Lua API) beside BLIS
# called directly and PyTorch, at the same thread count.
#
#   sh bench/matmul.sh            (after `make`; B=/tmp/build-x for another build)
#   THREADS=1 ROUNDS=5 sh bench/matmul.sh
#
# Each round runs every size through luann, BLIS and PyTorch in turn, each
# reporting the median of SAMPLES samples. The table shows each one's median
# over ROUNDS rounds, and the median of the per-round ratios (a round's
# runs are back to back, so a ratio sees the same load on a shared
# machine). Direct BLIS uses the sub-configuration luann picked (shown in
# the header). Compare ratios from one run, not absolute numbers across runs.
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
    echo "$round $size luann $("$LUANN" bench/matmul.lua $dims "$THREADS" "$SAMPLES")" >> "$RAW"
    echo "$round $size blis $("$B/bench/matmul_blis" $dims "$THREADS" "$SAMPLES" "$ARCH" 2>/dev/null)" >> "$RAW"
  done
  if env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 -c "$TORCH_BENCH" \
      "$THREADS" "$SAMPLES" $SIZES | sed "s/^\([^ ]*\) /$round \1 torch /" >> "$RAW"
  fi
done

echo "matmul float32 GFLOP/s, median of $ROUNDS rounds x $SAMPLES samples;" \
  "$THREADS thread(s); BLIS sub-configuration $ARCH; $(date -u +%Y-%m-%d)"
awk -v sizes="$SIZES" '
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    if (n == 0) return "-"
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return v[int((n + 1) / 2)]
  }
  { value[$1, $2, $3] = $4; rounds = $1 > rounds ? $1 : rounds }
  END {
    printf "%-16s %9s %9s %9s %11s %12s\n", "m x k x n", "luann", "BLIS", "torch", "luann/BLIS", "luann/torch"
    n = split(sizes, size, " ")
    for (s = 1; s <= n; s++) {
      l = b = t = rb = rt = ""
      for (r = 1; r <= rounds; r++) {
        lv = value[r, size[s], "luann"]; bv = value[r, size[s], "blis"]; tv = value[r, size[s], "torch"]
        if (lv != "") l = l " " lv
        if (bv != "") b = b " " bv
        if (tv != "") t = t " " tv
        if (lv != "" && bv + 0 > 0) rb = rb " " sprintf("%.3f", lv / bv)
        if (lv != "" && tv + 0 > 0) rt = rt " " sprintf("%.3f", lv / tv)
      }
      printf "%-16s %9s %9s %9s %11s %12s\n", size[s], median(l), median(b), median(t), median(rb), median(rt)
    }
  }' "$RAW"
