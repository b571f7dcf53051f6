"""Throughput of corpus scans (prompts/s) on a 1,000-prompt stories260K corpus made by the model
itself (sampled, T = 1, top_k = 40, seed i, 6..45 tokens):

  one process, one prompt per forward pass        (batch_size=1)
  one process, batched                            (batch_size=16)
  a Dask LocalCluster of 2 worker processes       (1 thread each; batch_size=16)

Run (after building the Python package):
  PYTHONPATH=build/release/python /usr/bin/python3 bench/bench_scan.py [--prompts 1000] [--threads 2]
Prints one line per configuration; nothing is asserted.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
MODEL = str(HERE.parent.parent / "shared" / "models" / "stories260K.gguf")
sys.path.insert(0, str(HERE.parent / "scripts"))
from sample_corpus import write_corpus  # noqa: E402


def timed(label, n, fn):
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print(f"{label:<48} {n / dt:8.1f} prompts/s  ({dt:.2f} s)", flush=True)
    return n / dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=0, help="threads of the single process (0: all cores)")
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--no-cluster", action="store_true")
    a = ap.parse_args()
    import attnscope
    from attnscope import _core as core

    if a.threads:
        core.set_num_threads(a.threads)
    model = attnscope.InterpretableModel(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "corpus.txt"
        write_corpus(model, a.prompts, path)
        n = a.prompts
        one = timed("1 process, one prompt per pass (batch_size=1)", n,
                    lambda: attnscope.scan(model, path, batch_size=1, progress=False))
        batched = timed("1 process, batch_size=16", n, lambda: attnscope.scan(model, path, batch_size=16, progress=False))
        print(f"{'gain of batching over one-by-one':<48} {batched / one:8.2f} x")
        if not a.no_cluster:
            import attnscope.distributed as ad
            from dask.distributed import Client, LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                ad.preload(client, a.model)  # every worker loads the model once, untimed
                timed("Dask LocalCluster, 2 workers x 1 thread", n,
                      lambda: ad.scan(a.model, path, client=client, batch_size=16, batches_per_task=4))


if __name__ == "__main__":
    sys.exit(main())
