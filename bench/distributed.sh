#!/bin/sh
# bench/distributed.sh: bench/distributed.lua for the MLP and LeNet at 1 and
# 2 ranks (one thread each), ROUNDS times each (default 3), alternating the
# configurations; prints the RESULT and TRACE lines of every run and the
# CPU. bench/RESULTS.md's "Data-parallel training over MPI" section holds a
# run of it and the scaling model built on its numbers.
#
#   sh bench/distributed.sh [ROUNDS]        (B=build: the build folder)
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
ROUNDS=${1:-3}
MPIRUN="mpirun --oversubscribe --allow-run-as-root"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for model in mlp lenet; do
    for np in 1 2; do
      $MPIRUN -np "$np" "$B/luann" bench/distributed.lua --model "$model" --steps 300 |
        if [ "$r" = 1 ]; then cat; else grep '^RESULT'; fi
    done
  done
  r=$((r + 1))
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
