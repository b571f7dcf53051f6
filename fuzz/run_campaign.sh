#!/usr/bin/env bash
# One round of the fuzz campaign: every target (or the ones named) for SECONDS each, at the lowest
# CPU priority, continuing the corpus kept in build/fuzz_campaign/<target> (not committed).
# Findings land in build/fuzz_campaign/artifacts/<target>/; a fixed one goes to
# fuzz/regressions/<target>/. Appends one line per run to build/fuzz_campaign/log.tsv:
#   target  seconds  executions  crashes  corpus_files  corpus_bytes  command
# -timeout is wall time: at nice 19 on a busy machine a 30 ms input can take seconds, so the
# campaign uses 10 s (FUZZ_TIMEOUT) and fuzz/check_slow.sh replays the corpus at normal priority
# to find inputs over 1 s. The fuzzer runs in fork mode (-fork=1) so that such a starved timeout
# is saved as an artifact (to be replayed) and fuzzing goes on; a crash still stops the run.
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
for t in "${targets[@]}"; do
  mkdir -p "$camp/$t" "$camp/artifacts/$t" "$root/fuzz/regressions/$t"
  cmd=(nice -n 19 "$root/build/fuzz/bin/fuzz_$t" -fork=1 -ignore_timeouts=1 -max_total_time="$secs"
       -timeout="${FUZZ_TIMEOUT:-10}" -malloc_limit_mb=500
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$camp/artifacts/$t/"
       "$camp/$t" "$root/fuzz/corpus/$t" "$root/fuzz/regressions/$t")
  log=$camp/$t.$(date +%H%M%S).log
  "${cmd[@]}" >"$log" 2>&1
  execs=$(grep -oE '^#[0-9]+:' "$log" | tr -d '#:' | tail -1)  # fork mode's running total
  crashes=$(find "$camp/artifacts/$t" -type f | wc -l)
  files=$(find "$camp/$t" -type f | wc -l)
  bytes=$(du -sb "$camp/$t" | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "${execs:-?}" "$crashes" "$files" "$bytes" "${cmd[*]}" >>"$camp/log.tsv"
done
