#!/bin/sh
# bench/mnist.sh: the MNIST tutorial program (784-128-10 ReLU, SGD lr 0.01,
# batches of 64, shuffled, 5 epochs) on Fashion-MNIST, in luann
# (examples/mnist.lua) and in PyTorch (bench/mnist.py, data preloaded as one
# tensor, and through torch's DataLoader). Prints each run's median epoch
# time, test accuracy and peak RSS, and the ratios to luann's time. luann
# runs twice: as is, and with OMP_WAIT_POLICY=passive (OpenMP threads sleep
# instead of spinning between parallel regions), which decides how it fares
# when other processes share the cores.
#   usage: bench/mnist.sh [build dir (default build)] [epochs (default 5)]
set -eu
B=${1:-build}
EPOCHS=${2:-5}
DATA=/usr/share/datasets/fashion-mnist
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Runs a command under /usr/bin/time -v (when present) into $OUT/$1.log.
run() {
  name=$1
  shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$@" >"$OUT/$name.log" 2>"$OUT/$name.time"
  else
    "$@" >"$OUT/$name.log" 2>"$OUT/$name.time"
  fi
}

run luann "$B/luann" examples/mnist.lua --epochs "$EPOCHS" --data "$DATA" --no-progress
run luann_passive env OMP_WAIT_POLICY=passive \
  "$B/luann" examples/mnist.lua --epochs "$EPOCHS" --data "$DATA" --no-progress
# OpenBLAS tuning variables are unset for PyTorch's runs only.
run torch_preloaded env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  /usr/bin/python3 bench/mnist.py --mode preloaded --epochs "$EPOCHS" --data "$DATA"
run torch_dataloader env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  /usr/bin/python3 bench/mnist.py --mode dataloader --epochs "$EPOCHS" --data "$DATA"

# median epoch time, accuracy, peak RSS in MiB of one run
summary() {
  awk -v name="$1" '
    /^Epoch times/ { n = split($0, f, " "); k = 0
                     for (i = 4; i <= n; i++) t[++k] = f[i]
                     for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
                       if (t[j] < t[i]) { s = t[i]; t[i] = t[j]; t[j] = s }
                     med = (k % 2) ? t[(k + 1) / 2] : (t[k / 2] + t[k / 2 + 1]) / 2 }
    /^Test accuracy/ { acc = $3 }
    /Maximum resident set size/ { rss = $6 / 1024 }
    END { printf "%s %.3f %s %.0f\n", name, med, acc, rss }' "$OUT/$1.log" "$OUT/$1.time"
}

echo "Fashion-MNIST, $EPOCHS epochs, batch 64, SGD lr 0.01 ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
{ summary luann; summary luann_passive; summary torch_preloaded; summary torch_dataloader; } >"$OUT/summary"
awk 'NR == 1 { base = $2 }
     { printf "%-17s %7.3f s/epoch (median)  accuracy %-7s  peak RSS %5d MiB  time vs luann %.2fx\n",
       $1, $2, $3, $4, $2 / base }' "$OUT/summary"
echo "luann's output:"
sed 's/^/  /' "$OUT/luann.log"
