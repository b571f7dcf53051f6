#!/usr/bin/env bash
# Replays each target's campaign corpus (build/fuzz_campaign/<target>), its seeds and regressions at
# normal priority with the issue's bounds: any input that runs over 1 s or allocates over 500 MB
# is reported (libFuzzer stops at the first; it lands in build/fuzz_campaign/artifacts/<target>/).
# Usage: fuzz/check_slow.sh [target ...]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(gguf_model safetensors hf_config tokenizer_json sentencepiece_model bpe_files
                                     patterns_json tokenizer_encode)
export TMPDIR=${TMPDIR:-/dev/shm}
status=0
for t in "${targets[@]}"; do
  dirs=("$root/fuzz/corpus/$t" "$root/fuzz/regressions/$t")
  [ -d "$root/build/fuzz_campaign/$t" ] && dirs=("$root/build/fuzz_campaign/$t" "${dirs[@]}")
  mkdir -p "$root/build/fuzz_campaign/artifacts/$t"
  if "$root/build/fuzz/bin/fuzz_$t" -runs=0 -timeout=1 -malloc_limit_mb=500 -rss_limit_mb=2048 \
       -artifact_prefix="$root/build/fuzz_campaign/artifacts/$t/" "${dirs[@]}" >"/tmp/check_slow_$t.log" 2>&1; then
    echo "$t: ok ($(grep -o 'INITED.*corp: [0-9]*/[0-9a-zA-Z]*' /tmp/check_slow_$t.log | grep -o 'corp: .*'))"
  else
    echo "$t: FINDING (see /tmp/check_slow_$t.log)"; status=1
  fi
done
exit $status
