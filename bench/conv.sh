#!/bin/sh
# bench/conv.sh: luann's float32 conv2d (forward, and forward+backward)
# beside PyTorch's on the CPU, on LeNet-5's and a ResNet basic block's
# convolutions, each side at 1 and at 2 threads.
#
#   sh bench/conv.sh              (after `make`; B=/tmp/build-x for another build)
#   ROUNDS=5 SAMPLES=7 THREADS="1 2" sh bench/conv.sh
#
# Each round runs every config through luann (bench/conv.lua) and PyTorch
# (bench/conv.py) in turn, at each thread count, each reporting the median
# ms per call over SAMPLES samples. The table shows each one's median over
# ROUNDS rounds; "best" is the faster thread count of each side, and
# luann/torch is the median of the per-round ratios of the two bests (a
# ratio above 1: luann is slower). PyTorch runs with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset, and uses oneDNN (mkldnn) for conv2d; the header
# shows what it found. Then one config runs ITERS fwd+bwd calls per side
# under /usr/bin/time -v for the peak RSS. Compare ratios from one run, not
# absolute numbers across runs.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
THREADS=${THREADS:-"1 $(nproc)"}
SAMPLES=${SAMPLES:-5}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-10}
# name=N,C,HW,O,K,PAD,STRIDE: LeNet-5 on a Fashion-MNIST batch of 64, and
# the 3x3 convs of ResNet-18's first two stages at batch 8
CONFIGS=${CONFIGS:-"lenet.c1=64,1,28,6,5,2,1 lenet.c3=64,6,14,16,5,0,1
  resnet.64=8,64,56,64,3,1,1 resnet.128=8,128,28,128,3,1,1"}
LUANN="$B/luann"
[ -x "$LUANN" ] || { echo "conv.sh: $LUANN not found; run make first" >&2; exit 1; }
TORCH="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3"
$TORCH -c 'import torch' 2>/dev/null || { echo "conv.sh: PyTorch not importable" >&2; exit 1; }

ARCH=$(BLIS_ARCH_DEBUG=1 "$LUANN" -e 'luann.matmul(luann.zeros(2, 2), luann.zeros(2, 2))' 2>&1 |
  sed -n "s/.*sub-configuration '\([a-z0-9]*\)'.*/\1/p" | head -n 1)
echo "conv2d float32, CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores," \
  "$(grep -o -w -e avx2 -e fma -e avx512f -e avx512bw -e avx512_vnni /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "luann: BLIS sub-configuration ${ARCH:-?}; threads set by luann.set_num_threads" \
  "(OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}, BLIS_NUM_THREADS=${BLIS_NUM_THREADS:-unset})"
$TORCH bench/conv.py --info
# the oneDNN implementations torch's conv2d runs (forward, backward data,
# weights) on the third config (the first if fewer), which also gives the RSS line
probe=$(echo $CONFIGS | awk '{ print (NF >= 3 ? $3 : $1) }')
echo "oneDNN for $probe: $(DNNL_VERBOSE=1 $TORCH bench/conv.py 1 -1 "$probe" |
  awk -F, '/^(dnnl|onednn)_verbose,exec,/ && /convolution/ { print $5 " " $6 }' | sort -u | tr '\n' ';')"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds x $SAMPLES samples; $(date -u '+%Y-%m-%d %H:%M UTC')"

RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
for round in $(seq "$ROUNDS"); do
  for t in $THREADS; do
    "$LUANN" bench/conv.lua "$t" "$SAMPLES" $CONFIGS | sed "s/^/$round luann $t /" >> "$RAW"
    $TORCH bench/conv.py "$t" "$SAMPLES" $CONFIGS | sed "s/^/$round torch $t /" >> "$RAW"
  done
done

awk -v configs="$(echo $CONFIGS)" -v threads="$THREADS" '
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    if (n == 0) return "-"
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return v[int((n + 1) / 2)]
  }
  { ms[$1, $2, $3, $4, $5] = $6; rounds = $1 > rounds ? $1 : rounds }
  END {
    nt = split(threads, th, " ")
    printf "%-11s %-6s", "config", "pass"
    for (k = 1; k <= nt; k++) printf " %9s", "luann " th[k] "t"
    for (k = 1; k <= nt; k++) printf " %9s", "torch " th[k] "t"
    printf " %11s\n", "luann/torch"
    nc = split(configs, cfg, " ")
    for (c = 1; c <= nc; c++) {
      split(cfg[c], nv, "=")
      for (p = 1; p <= 2; p++) {
        pass = p == 1 ? "fwd" : "fwdbwd"
        printf "%-11s %-6s", nv[1], pass
        for (s = 1; s <= 2; s++)
          for (k = 1; k <= nt; k++) {
            l = ""
            for (r = 1; r <= rounds; r++) l = l " " ms[r, s == 1 ? "luann" : "torch", th[k], nv[1], pass]
            printf " %9s", median(l)
          }
        ratios = ""
        for (r = 1; r <= rounds; r++) {
          bl = bt = ""
          for (k = 1; k <= nt; k++) {
            v = ms[r, "luann", th[k], nv[1], pass]; if (v != "" && (bl == "" || v + 0 < bl + 0)) bl = v
            v = ms[r, "torch", th[k], nv[1], pass]; if (v != "" && (bt == "" || v + 0 < bt + 0)) bt = v
          }
          if (bl != "" && bt + 0 > 0) ratios = ratios " " sprintf("%.2f", bl / bt)
        }
        printf " %11s\n", median(ratios)
      }
    }
  }' "$RAW"
echo "(ms per call, median over rounds; luann/torch: best thread count of each, median of per-round ratios)"

# peak RSS of ITERS fwd+bwd calls of one config, and of 0 calls (the runtime alone)
if [ -x /usr/bin/time ]; then
  rss() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident set size/ { printf "%.0f", $6 / 1024 }'
  }
  t=$(echo $THREADS | awk '{ print $NF }')
  echo "peak RSS, $probe, $ITERS fwd+bwd calls at $t thread(s) (0 calls):" \
    "luann $(rss "$LUANN" bench/conv.lua "$t" "-$ITERS" "$probe") MiB" \
    "($(rss "$LUANN" bench/conv.lua "$t" -0 "$probe") MiB)," \
    "torch $(rss $TORCH bench/conv.py "$t" "-$ITERS" "$probe") MiB" \
    "($(rss $TORCH bench/conv.py "$t" -0 "$probe") MiB)"
fi
