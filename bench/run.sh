#!/bin/sh
# bench/run.sh: issue 10's benchmark suite, luann against Debian's PyTorch on
# this CPU. Each workload runs in both, alternated over ROUNDS rounds in one
# run (luann first in odd rounds, PyTorch first in even ones); the script
# prints the medians and luann/PyTorch ratios beside each "must", and with
# --write puts them into bench/RESULTS.md with the CPU, the commit, the
# commands and the load average.
#
#   bench/run.sh [--write]            (or `make bench`; after make; about 15
#                                     minutes on 2 quiet cores, far longer on
#                                     busy ones: 2-thread configs collapse)
#   ROUNDS=5 bench/run.sh             more rounds (default 3)
#   QUICK=1 bench/run.sh              a smoke run of the script itself: 3000
#                                     images, 5 steps, 1 round; not a result
#   B=/tmp/build-x bench/run.sh       another build folder
#   WORKLOADS="mlp64 startup" bench/run.sh   some workloads only (default: all,
#                                     $ALL below; loaded needs mlp64)
#
# Workloads: the tutorial's MLP one epoch on preloaded Fashion-MNIST (batch
# 64 and 512; bench/mlp.lua against bench/mnist.py) and its GEMM floor (the
# epoch's products alone, BLIS from C: bench/matmul_blis.c --floor);
# examples/mnist.lua against the tutorial as written (bench/tutorial.py:
# torchvision, ToTensor, DataLoader); LeNet-5 one epoch (bench/mlp.lua
# --model lenet against bench/mnist_cnn.py); the char-Transformer's and the
# char-LSTM's training step (examples/char_*.lua against bench/char_*.py);
# peak RSS (/usr/bin/time -v); RSS over 20 epochs; start-up; and the MLP
# again with one core kept busy by `yes`.
#
# PyTorch at its best, shown: its commands run with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset (the machine sets them for old OpenBLAS builds),
# the header shows the libblas.so.3 it resolved, its matmul at 2048^3 must
# reach 80% of BLIS's rate at the same thread count or no ratio is given,
# and every workload runs at each of its thread settings (torch's
# set_num_threads 1 and all cores, each with OpenBLAS at its default, all
# cores, or at 1): the ratio takes the best. luann runs at its defaults;
# one more config shows it at 1 thread.
# Benchmarks are not tests: nothing here fails on a time.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then ROUNDS=${ROUNDS:-1}; else ROUNDS=${ROUNDS:-3}; fi
LIMIT_S=${LIMIT_S:-600} # a run past this is killed and counted as failed
ALL="mlp64 mlp512 tutorial lenet transformer lstm startup longrun loaded"
WORKLOADS=${WORKLOADS:-$ALL}
WRITE=0
case "${1:-}" in
--write) WRITE=1 ;;
"") ;;
*) echo "usage: bench/run.sh [--write]" >&2; exit 2 ;;
esac
if [ "$WRITE" = 1 ] && [ "$QUICK" = 1 ]; then
  echo "run.sh: a QUICK run is a smoke test of the script: it writes no results" >&2
  exit 2
fi

LUANN=$B/luann
PY=/usr/bin/python3
TORCH_ENV="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
DATA=/usr/share/datasets/fashion-mnist
NPROC=$(nproc)
if [ "$QUICK" = 1 ]; then
  LIM=" --limit 3000" IMAGES=3000 STEPS=5 EPOCHS_LONG=4 SAMPLES=1 STARTS=2
else
  LIM="" IMAGES=60000 STEPS=30 EPOCHS_LONG=20 SAMPLES=3 STARTS=5
fi

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x "$LUANN" ] || die "$LUANN not found; run make first"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (./setup.sh bench installs it)"
$TORCH_ENV $PY -c 'import torch, torchvision' 2>/dev/null ||
  die "PyTorch or torchvision not importable by $PY (./setup.sh bench installs them)"
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || die "no Fashion-MNIST in $DATA"

TMP=$(mktemp -d)
YES_PID=""
stop_load() {
  if [ -n "$YES_PID" ]; then kill "$YES_PID" 2>/dev/null || true; wait "$YES_PID" 2>/dev/null || true; fi
  YES_PID=""
}
trap 'stop_load; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
RAW=$TMP/raw SINGLE=$TMP/single
: >"$RAW"
echo "nproc $NPROC" >"$SINGLE"
echo "images $IMAGES" >>"$SINGLE"
note() { echo "$*" >&2; }

# ---- the programs ------------------------------------------------------------
# torchvision 0.14 wants the IDX files unpacked under ROOT/FashionMNIST/raw.
ROOT=$TMP/torchvision
mkdir -p "$ROOT/FashionMNIST/raw"
for f in "$DATA"/*-ubyte.gz; do
  gunzip -c "$f" >"$ROOT/FashionMNIST/raw/$(basename "$f" .gz)"
done

# Workload $1's luann program, as arguments of the luann executable.
luann_prog() {
  case $1 in
  mlp64 | loaded) echo "bench/mlp.lua --epochs 1$LIM" ;;
  mlp512) echo "bench/mlp.lua --epochs 1 --batch-size 512$LIM" ;;
  tutorial) echo "examples/mnist.lua --epochs 1 --data $DATA --no-progress$LIM" ;;
  lenet) echo "bench/mlp.lua --model lenet --epochs 1$LIM" ;;
  transformer) echo "examples/char_transformer.lua --steps $STEPS --train-only --no-progress" ;;
  lstm) echo "examples/char_lstm.lua --steps $STEPS --train-only --no-progress" ;;
  startup) echo "-e ''" ;;
  esac
}

# Workload $1's PyTorch program, as arguments of python3 (thread options apart).
torch_prog() {
  case $1 in
  mlp64 | loaded) echo "bench/mnist.py --mode preloaded --epochs 1 --no-test$LIM" ;;
  mlp512) echo "bench/mnist.py --mode preloaded --epochs 1 --batch-size 512 --no-test$LIM" ;;
  tutorial) echo "bench/tutorial.py $ROOT --epochs 1$LIM" ;;
  lenet) echo "bench/mnist_cnn.py --epochs 1$LIM" ;;
  transformer) echo "bench/char_transformer.py --steps $STEPS --train-only" ;;
  lstm) echo "bench/char_lstm.py --steps $STEPS --train-only" ;;
  startup) echo "-c 'import torch'" ;;
  esac
}

# The configs side $1 runs workload $2 at. luann: def (its defaults: a thread
# per core, fewer while other programs keep cores busy) and t1 (one thread).
# PyTorch: tK = torch.set_num_threads(K), +ob1 = OPENBLAS_NUM_THREADS=1
# (unset otherwise: OpenBLAS takes every core).
configs() {
  case $1.$2 in
  *.startup) echo def ;;
  luann.*) echo "def t1" ;;
  *) if [ "$NPROC" = 1 ]; then echo "t1 t1+ob1"; else echo "t1 t1+ob1 t$NPROC t$NPROC+ob1"; fi ;;
  esac
}

# The command line of side $1 at config $2 for workload $3.
command_of() {
  if [ "$1" = luann ]; then
    case $2.$3 in
    def.*) echo "$LUANN $(luann_prog "$3")" ;;
    t1.transformer | t1.lstm) echo "$LUANN $(luann_prog "$3") --threads 1" ;;
    t1.*) echo "$LUANN -e 'luann.set_num_threads(1)' $(luann_prog "$3")" ;;
    esac
    return
  fi
  if [ "$3" = startup ]; then echo "$TORCH_ENV $PY $(torch_prog startup)"; return; fi
  threads=${2%%+*}
  case $2 in
  *+ob1) echo "$TORCH_ENV OPENBLAS_NUM_THREADS=1 $PY $(torch_prog "$3") --threads ${threads#t}" ;;
  *) echo "$TORCH_ENV $PY $(torch_prog "$3") --threads ${threads#t}" ;;
  esac
}

# ---- measuring ---------------------------------------------------------------
# The figure of a run's output $2 for workload $1: the median epoch time in
# seconds, or ms per training step.
value_of() {
  case $1 in
  transformer | lstm) sed -n 's/.*(\([0-9.]*\) steps\/s.*/\1/p' "$2" | awk '$1 > 0 { printf "%.2f", 1000 / $1 }' ;;
  *) awk '/^Epoch times \(s\):/ { n = split($0, f, " "); k = 0
           for (i = 4; i <= n; i++) t[++k] = f[i]
           for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (t[j] < t[i]) { s = t[i]; t[i] = t[j]; t[j] = s }
           print (k % 2) ? t[(k + 1) / 2] : (t[k / 2] + t[k / 2 + 1]) / 2 }' "$2" ;;
  esac
}

# Peak RSS (MiB) and wall seconds from /usr/bin/time -v's report $1.
rss_wall_of() {
  awk '/Maximum resident set size/ { rss = $6 / 1024 }
       /Elapsed \(wall clock\)/ { n = split($NF, p, ":"); wall = p[n] + 60 * p[n - 1] + (n > 2 ? 3600 * p[1] : 0) }
       END { printf "%.0f %.2f", rss, wall }' "$1"
}

# CPU seconds every process has used since boot (/proc/stat): with this
# run's own (the shell's `times`), what other processes took during it.
cpu_all() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }
# (`times` runs in this shell: in a $(...) subshell it would see no children)
cpu_ours() {
  times >"$TMP/times"
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, p, "m"); s += 60 * p[1] + p[2] } print s }' "$TMP/times"
}

# Runs workload $1 on side $2 at config $3 (round $4) and records it in RAW.
measure() {
  cmd=$(command_of "$2" "$3" "$1")
  log=$TMP/$1.$2.$3.$4
  [ "$4" = 1 ] && echo "$1 $2 $3: $cmd" >>"$TMP/commands"
  value=""
  if eval "/usr/bin/time -v -o '$log.time' timeout -k 10 $LIMIT_S $cmd" >"$log" 2>&1; then
    value=$(value_of "$1" "$log")
  fi
  if [ -z "$value" ]; then
    note "  FAILED: $cmd (last lines follow)"
    tail -n 3 "$log" | sed 's/^/    /' >&2
    value=-
  fi
  echo "$1 $2 $3 $4 $value $(rss_wall_of "$log.time")" >>"$RAW"
  note "  $1 $2 $3 round $4: $value"
}

# Workload $1: ROUNDS rounds of every config of both sides.
run_workload() {
  note "$1: $(command_of luann def "$1")"
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then sides="luann torch"; else sides="torch luann"; fi
    for side in $sides; do
      for cfg in $(configs "$side" "$1"); do measure "$1" "$side" "$cfg" "$r"; done
    done
  done
}

# Start-up: ms per start, each sample the mean of a batch of starts (so the
# clock's own cost is spread), luann and PyTorch alternated.
run_startup() {
  note "startup: $LUANN -e '' against python3 -c 'import torch'"
  for s in $(seq "$STARTS"); do
    for side in luann torch; do
      cmd=$(command_of "$side" def startup)
      if [ "$side" = luann ]; then n=20; else n=2; fi
      t0=$(date +%s%N)
      for i in $(seq $n); do eval "$cmd" >/dev/null 2>&1; done
      t1=$(date +%s%N)
      echo "startup $side def $s $(awk -v d=$((t1 - t0)) -v n=$n 'BEGIN { printf "%.2f", d / n / 1e6 }') - -" >>"$RAW"
    done
  done
  echo "startup luann def: $(command_of luann def startup)" >>"$TMP/commands"
  echo "startup torch def: $(command_of torch def startup)" >>"$TMP/commands"
}

# RSS after each epoch of a long MLP run (bench/mlp.lua prints it).
run_longrun() {
  cmd="$LUANN bench/mlp.lua --epochs $EPOCHS_LONG$LIM"
  note "long run: $cmd"
  echo "longrun luann def: $cmd" >>"$TMP/commands"
  eval "$cmd" >"$TMP/longrun" 2>&1 || { note "  FAILED: $cmd"; return 0; }
  awk -v n="$EPOCHS_LONG" '/^RSS after each epoch/ {
      print "longrun_first " $(NF - n + 2); print "longrun_last " $NF; print "longrun_epochs " n }' \
    "$TMP/longrun" >>"$SINGLE"
  note "  $(grep '^RSS after' "$TMP/longrun")"
}

# BLIS (called directly from C, at the sub-configuration luann picks) against
# torch.matmul at 2048^3 (GFLOP/s), at all cores and at 1 thread; and the
# GEMM floor (seconds) at 1 thread and all cores; ROUNDS rounds of each.
run_blas_checks() {
  mkdir -p "$B/bench"
  cc -std=gnu11 -O2 -Wall bench/matmul_blis.c -o "$B/bench/matmul_blis" -lblis -lm -fopenmp
  mmb=$B/bench/matmul_blis
  note "matmul 2048^3 and the GEMM floor: $mmb"
  for r in $(seq "$ROUNDS"); do
    for t in "$NPROC" 1; do
      ob=""
      [ "$t" = 1 ] && ob=" OPENBLAS_NUM_THREADS=1"
      echo "matmul blis t$t $r $("$mmb" 2048 2048 2048 "$t" "$SAMPLES" "$ARCH" 2>/dev/null) - -" >>"$RAW"
      eval "$TORCH_ENV$ob $PY bench/torch_info.py --samples $SAMPLES" >"$TMP/torch_info_$t"
      echo "matmul torch t$t $r $(sed -n 's/^matmul .* GFLOP\/s: //p' "$TMP/torch_info_$t") - -" >>"$RAW"
    done
    for b in 64 512; do
      for t in 1 "$NPROC"; do
        echo "floor$b blis t$t $r $("$mmb" --floor "$IMAGES" "$b" "$t" "$SAMPLES" "$ARCH" 2>/dev/null |
          cut -d' ' -f1) - -" >>"$RAW"
      done
    done
  done
  {
    echo "matmul blis tK: $mmb 2048 2048 2048 K $SAMPLES $ARCH"
    echo "matmul torch tK: $TORCH_ENV [OPENBLAS_NUM_THREADS=1 for K=1] $PY bench/torch_info.py --samples $SAMPLES"
    echo "floorB blis tK: $mmb --floor $IMAGES B K $SAMPLES $ARCH"
  } >>"$TMP/commands"
}

# ---- the run -----------------------------------------------------------------
ARCH=$(BLIS_ARCH_DEBUG=1 "$LUANN" -e 'luann.matmul(luann.zeros(2, 2), luann.zeros(2, 2))' 2>&1 |
  sed -n "s/.*sub-configuration '\([a-z0-9]*\)'.*/\1/p" | head -n 1)
[ -n "$ARCH" ] || die "could not learn luann's BLIS sub-configuration"
MODEL=$(lscpu | sed -n 's/^Model name: *//p')
FLAGS=$(grep -o -w -e avx2 -e fma -e 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')
case $FLAGS in *avx512f*) ISA=AVX-512 ;; *avx2*) ISA=AVX2 ;; *) ISA="no AVX2" ;; esac
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
CPU0=$(cpu_all) T0=$(date +%s)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
note "bench/run.sh: $ROUNDS round(s)$([ "$QUICK" = 1 ] && echo ', QUICK (a smoke run, not a result)'); load average $LOAD0"

run_blas_checks
for w in $WORKLOADS; do
  case $w in
  startup) run_startup ;;
  longrun) run_longrun ;;
  loaded)
    note "one core kept busy by yes > /dev/null:"
    yes >/dev/null &
    YES_PID=$!
    run_workload loaded
    stop_load
    ;;
  *) run_workload "$w" ;;
  esac
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
# cores other processes kept busy, on average over the run
cpu_ours >"$TMP/ours"
OTHERS=$(awk -v a="$CPU0" -v z="$(cpu_all)" -v ours="$(cat "$TMP/ours")" -v t=$(($(date +%s) - T0)) \
  'BEGIN { o = (z - a - ours) / (t > 0 ? t : 1); printf "%.2f", (o > 0 ? o : 0) }')

# ---- the report --------------------------------------------------------------
{
  echo "## bench/run.sh: ${STARTED%% *}, $MODEL, $NPROC cores, $ISA"
  echo
  echo "\`$(env | grep -E '^(ROUNDS|QUICK|B|LIMIT_S|WORKLOADS)=' | sed "s/=\(.*\)/='\1'/" | tr '\n' ' ')bench/run.sh$([ $WRITE = 1 ] && echo ' --write')\`" \
    "at $COMMIT, $STARTED; $ROUNDS round(s)$([ "$QUICK" = 1 ] && echo ', QUICK=1: a smoke run of the script, not a result')."
  echo "Load average $LOAD0 before, $LOAD1 after; other processes kept $OTHERS of the $NPROC cores busy" \
    "on average (CPU time from /proc/stat less this run's own)."
  if awk -v o="$OTHERS" -v n="$NPROC" 'BEGIN { exit !(o >= 0.2 * n) }'; then
    echo "**A busy machine**: other processes shared the cores; the figures move with them."
  fi
  echo
  echo "- CPU: $MODEL, $NPROC cores; flags: $FLAGS"
  echo "- luann: BLIS sub-configuration \`$ARCH\`; $("$LUANN" -e 'io.write(luann.get_num_threads())') thread(s) by default" \
    "(luann.set_num_threads sets BLIS's and OpenMP's; OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}," \
    "BLIS_NUM_THREADS=${BLIS_NUM_THREADS:-unset})."
  echo "- PyTorch $(sed -n 's/^torch: //p' "$TMP/torch_info_$NPROC"): libblas.so.3 resolved to" \
    "\`$(sed -n 's/^libblas.so.3: //p' "$TMP/torch_info_$NPROC")\` ($(sed -n 's/^blas libraries: //p' "$TMP/torch_info_$NPROC"));" \
    "get_num_threads() $(sed -n 's/^get_num_threads: //p' "$TMP/torch_info_$NPROC") by default, OPENBLAS_NUM_THREADS" \
    "$(sed -n 's/^OPENBLAS_NUM_THREADS: //p' "$TMP/torch_info_$NPROC")."
  echo "- Configs. luann: def = its defaults (a thread per core, fewer while other programs keep cores busy), t1 = one thread." \
    "PyTorch: tK = torch.set_num_threads(K); +ob1 = OPENBLAS_NUM_THREADS=1, else unset (OpenBLAS takes every core)."
  echo
  awk -f bench/report.awk "$SINGLE" "$RAW"
  echo
  echo "Commands, every config as round 1 ran it:"
  echo
  echo '```'
  sed "s|$TMP|\$TMP|g" "$TMP/commands"
  echo '```'
} >"$TMP/section"
echo
cat "$TMP/section"

# Puts the section into bench/RESULTS.md: in place of one with the same title
# (same day, same CPU), else below the marker line (newest first).
if [ "$WRITE" = 1 ]; then
  title=$(head -n 1 "$TMP/section")
  if grep -Fxq "$title" bench/RESULTS.md; then
    awk -v title="$title" -v file="$TMP/section" '
      $0 == title { while ((getline line < file) > 0) print line; print ""; skip = 1; next }
      skip && /^## / { skip = 0 }
      !skip' bench/RESULTS.md >"$TMP/results"
  else
    awk -v file="$TMP/section" '
      { print }
      /^<!-- bench\/run.sh writes its sections below this line -->$/ {
        print ""; while ((getline line < file) > 0) print line; done = 1 }
      END { if (!done) { print ""; while ((getline line < file) > 0) print line } }' bench/RESULTS.md >"$TMP/results"
  fi
  cp "$TMP/results" bench/RESULTS.md
  note "wrote the section \"$title\" into bench/RESULTS.md"
fi
