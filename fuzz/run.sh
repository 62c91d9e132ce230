#!/bin/sh
# run.sh DIR SECONDS MAX_LEN MALLOC_MB RSS_MB TARGET...: runs each libFuzzer
# harness DIR/<target>_fuzz for SECONDS over a scratch copy of its seed
# corpus fuzz/corpus/<target>/ (the committed corpus grows only by hand).
# A crash, leak, timeout or oversized malloc fails the run; its input is
# kept in DIR/findings/<target>/. SECONDS=0 only replays the corpus.
# Prints executions and corpus size per target; exits 1 on any finding.
set -u
dir=$1 seconds=$2 max_len=$3 malloc_mb=$4 rss_mb=$5
shift 5
status=0
for target in "$@"; do
  work=$(mktemp -d "${TMPDIR:-/tmp}/libfuzz-$target.XXXXXX")
  findings="$dir/findings/$target"
  mkdir -p "$findings"
  cp fuzz/corpus/"$target"/* "$work"/ 2>/dev/null
  seeds=$(ls "$work" | wc -l)
  if [ "$seeds" -eq 0 ]; then
    echo "libfuzz: $target: no seed corpus in fuzz/corpus/$target" >&2
    status=1
  fi
  if [ "$seconds" -gt 0 ]; then mode="-max_total_time=$seconds"; else mode="-runs=0"; fi
  log="$dir/$target.log"
  "$dir/${target}_fuzz" "$mode" -max_len="$max_len" -timeout=10 \
    -malloc_limit_mb="$malloc_mb" -rss_limit_mb="$rss_mb" \
    -print_final_stats=1 -artifact_prefix="$findings/" "$work" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "libfuzz: $target: ${execs:-?} executions in ${seconds}s, corpus" \
       "$seeds -> $(ls "$work" | wc -l) files"
  if [ "$rc" -ne 0 ]; then
    echo "libfuzz: $target: FAILED (exit $rc); log $log, input in $findings/" >&2
    grep -E 'ERROR|SUMMARY|fuzz: |Test unit written' "$log" | head -20 >&2
    status=1
  fi
  rm -rf "$work"
done
exit $status
