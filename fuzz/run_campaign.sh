#!/usr/bin/env bash
# One round of the fuzz campaign: every target (or the ones named) for SECONDS each, at the lowest
# CPU priority, continuing the corpus kept in build/fuzz_campaign/<target> (not committed).
# Findings land in build/fuzz_campaign/artifacts/<target>/; a fixed one goes to
# fuzz/regressions/<target>/. Appends one line per run to build/fuzz_campaign/log.tsv:
#   target  seconds  executions  crashes  corpus_files  corpus_bytes  command
# Executions are libFuzzer's own count (stat::number_of_executed_units).
#
# One fuzzer process per round, no fork mode: each fork-mode job restarts the process and reruns
# its corpus sample, which cost tokenizer_encode (every tokenizer of ../shared/models loaded under
# ASan) and gguf_model much of their time. -timeout is wall time: at nice 19 beside a build a
# 0.4 s input was seen to take 10 s, so the campaign allows 60 s (FUZZ_TIMEOUT) before calling it a
# hang, and fuzz/check_slow.sh replays the corpus at normal priority to find inputs over 1 s.
# ASan keeps a 32 MB quarantine (not 256 MB: freed memory is reused sooner, so far fewer page
# faults; a use after free inside one input is still caught) and 5-frame allocation stacks (replay
# a finding for the full ones); the issue's 500 MB bound stays -malloc_limit_mb.
# Ctrl-C (or SIGTERM) ends the running fuzzer cleanly and still logs its executions.
# FUZZ_GOAL=N: a target whose logged executions reach N is skipped, and a run stops at N (the
# issue asks for 10 M per target: `while FUZZ_GOAL=10000000 fuzz/run_campaign.sh 900; do :; done`
# runs until every target has them; the script fails once there is nothing left to run).
# Usage: fuzz/run_campaign.sh SECONDS [target ...]   (after: cmake --build --preset fuzz)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:?usage: run_campaign.sh SECONDS [target ...]}
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(gguf_model safetensors hf_config tokenizer_json sentencepiece_model bpe_files
                                     patterns_json tokenizer_encode)
camp=$root/build/fuzz_campaign
export TMPDIR=${TMPDIR:-/dev/shm}  # scratch files of the path-based parsers
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=32:malloc_context_size=5}
stop=0
ran=0
fuzzer=
trap 'stop=1; [ -n "$fuzzer" ] && kill -INT "$fuzzer" 2>/dev/null' INT TERM
for t in "${targets[@]}"; do
  [ "$stop" = 1 ] && break
  runs=()
  if [ -n "${FUZZ_GOAL:-}" ]; then
    logged=$(awk -F'\t' -v t="$t" '$1 == t && $3 ~ /^[0-9]+$/ {n += $3} END {print n + 0}' "$camp/log.tsv" 2>/dev/null)
    [ "${logged:-0}" -ge "$FUZZ_GOAL" ] && continue
    runs=(-runs=$((FUZZ_GOAL - ${logged:-0})))
  fi
  ran=1
  mkdir -p "$camp/$t" "$camp/artifacts/$t" "$root/fuzz/regressions/$t"
  cmd=(nice -n 19 "$root/build/fuzz/bin/fuzz_$t" -max_total_time="$secs" "${runs[@]}" -timeout="${FUZZ_TIMEOUT:-60}"
       -malloc_limit_mb=500 -rss_limit_mb=2048 -print_final_stats=1
       -artifact_prefix="$camp/artifacts/$t/" "$camp/$t" "$root/fuzz/corpus/$t" "$root/fuzz/regressions/$t")
  log=$camp/$t.$(date +%H%M%S).log
  "${cmd[@]}" >"$log" 2>&1 &
  fuzzer=$!
  while ! wait "$fuzzer"; do kill -0 "$fuzzer" 2>/dev/null || break; done  # wait again after a trap
  # libFuzzer ends with _Exit, so the harness's atexit never removes its scratch directory.
  rm -rf "$TMPDIR/attnscope-fuzz-$fuzzer"
  fuzzer=
  execs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  crashes=$(find "$camp/artifacts/$t" -type f | wc -l)
  files=$(find "$camp/$t" -type f | wc -l)
  bytes=$(du -sb "$camp/$t" | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "${execs:-?}" "$crashes" "$files" "$bytes" "ASAN_OPTIONS=$ASAN_OPTIONS ${cmd[*]}" >>"$camp/log.tsv"
done
[ "$ran" = 1 ] && [ "$stop" = 0 ]
