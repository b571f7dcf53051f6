#!/usr/bin/env python3
"""Thread scaling of the stored-weight forward (issue 28), one command, beside llama.cpp.

For each stored type of the 1 B-shaped benchmark files (bench_quant --keep writes them) and each
thread count (1, 2, all cores by default), runs back to back:
  bench_quant --one TYPE --dtype bfloat16 --threads N   (prefill 128 with every pattern captured,
                                                         generation of 32 tokens, best of --reps)
  llama-bench -m FILE -t N -p 128 -n 32 -r REPS          (if --llama-bench is given; both of its
                                                         load modes, mmap and none, since each tool
                                                         is measured at its fastest)
and prints one Markdown table with the CPU it ran on. With --mmap-too, attnscope also runs with
its weights mapped (--mmap) instead of read into memory.

  bench/thread_scaling.py --dir /tmp/qbench --llama-bench /tmp/llama.cpp/build/bin/llama-bench
      [--bench-quant build/release/bench/bench_quant] [--types F16,BF16,Q8_0,Q4_K_M]
      [--threads 1,2,all] [--reps 3] [--mmap-too]

Rates are tokens per second; "gen" counts single-token forward passes (llama-bench's tg32).
Nothing here is a test: run it on an idle machine (the load average is printed).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_description():
    """Model name, family/model/stepping and the ISA extensions that matter for the kernels."""
    info = {}
    flags = []
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" not in line:
                continue
            k, v = (s.strip() for s in line.split(":", 1))
            if k in ("model name", "cpu family", "model", "stepping") and k not in info:
                info[k] = v
            if k == "flags" and not flags:
                flags = v.split()
    wanted = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni",
              "amx_tile", "amx_bf16", "amx_int8", "hypervisor"]
    isa = " ".join(f for f in wanted if f in flags)
    return "%s (family %s, model %s, stepping %s), %d cores; %s" % (
        info.get("model name", "?"), info.get("cpu family", "?"), info.get("model", "?"),
        info.get("stepping", "?"), os.cpu_count() or 0, isa)


def run_attnscope(exe, model_dir, typ, threads, reps, mmap):
    cmd = [exe, "--one", typ, "--dtype", "bfloat16", "--dir", model_dir, "--prefill", "128", "--gen", "32",
           "--reps", str(reps), "--threads", str(threads)] + (["--mmap"] if mmap else [])
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        sys.exit("bench_quant gave no result: %s\n%s" % (" ".join(cmd), out))
    kv = dict(item.split("=", 1) for item in line.split()[1:])
    return float(kv["prefill128"]), float(kv["gen"])


def run_llama(exe, path, threads, reps):
    """{load mode: (pp128, tg32)} from llama-bench's JSON (mean of its repetitions)."""
    cmd = [exe, "-m", path, "-t", str(threads), "-p", "128", "-n", "32", "-r", str(reps), "-lm", "mmap,none",
           "-o", "json"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("llama-bench failed: %s\n%s" % (" ".join(cmd), res.stderr[-2000:]))
    rates = {}
    for r in json.loads(res.stdout):
        mode = r.get("load_mode", r.get("use_mmap"))
        test = "pp" if r["n_prompt"] > 0 else "tg"
        rates.setdefault(str(mode), {})[test] = r["avg_ts"]
    return {m: (v.get("pp", 0.0), v.get("tg", 0.0)) for m, v in rates.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/tmp/qbench", help="where bench_quant --keep wrote the files")
    ap.add_argument("--bench-quant", default=os.path.join(HERE, "..", "build", "release", "bench", "bench_quant"))
    ap.add_argument("--llama-bench", default="", help="llama.cpp's llama-bench (bench/README.md builds it)")
    ap.add_argument("--types", default="F16,BF16,Q8_0,Q4_K_M")
    ap.add_argument("--threads", default="1,2,all")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mmap-too", action="store_true", help="also run attnscope with its weights mapped")
    a = ap.parse_args()

    counts = []
    for t in a.threads.split(","):
        n = os.cpu_count() if t == "all" else int(t)
        if n not in counts:
            counts.append(n)
    print("CPU: " + cpu_description())
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    print()
    head = "| file | threads | attnscope pp128 | attnscope gen | "
    sep = "|---|---|---|---|"
    if a.mmap_too:
        head += "attnscope --mmap gen | "
        sep += "---|"
    if a.llama_bench:
        head += "llama.cpp pp128 (mmap / none) | llama.cpp tg32 (mmap / none) | gen / best tg32 |"
        sep += "---|---|---|"
    print(head)
    print(sep)
    for typ in a.types.split(","):
        path = os.path.join(a.dir, "attnscope-synthetic-llama-1b-%s.gguf" % typ)
        if not os.path.exists(path):
            sys.exit("no %s: write the files with bench_quant --dir %s --keep" % (path, a.dir))
        for n in counts:
            pp, gen = run_attnscope(a.bench_quant, a.dir, typ, n, a.reps, False)
            row = "| %s | %d | %.1f | %.1f | " % (typ, n, pp, gen)
            if a.mmap_too:
                row += "%.1f | " % run_attnscope(a.bench_quant, a.dir, typ, n, a.reps, True)[1]
            if a.llama_bench:
                lr = run_llama(a.llama_bench, path, n, a.reps)
                mm, none = lr.get("mmap", (0, 0)), lr.get("none", (0, 0))
                best = max(mm[1], none[1])
                row += "%.1f / %.1f | %.1f / %.1f | %.2f |" % (mm[0], none[0], mm[1], none[1], gen / best if best else 0)
            print(row, flush=True)
    print()
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
