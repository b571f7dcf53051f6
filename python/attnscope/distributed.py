"""Corpus scans on a Dask cluster: ``attnscope.distributed.scan(model, corpus, client=...)``.

The client tokenizes the corpus and plans the batches exactly as ``attnscope.scan`` does; groups of
batches become tasks. Each worker process loads the model once (a per-process cache keyed by the
model's path) and returns its rows with their exact partial sums (``core.ScanStats``: sums and
sums of squares kept as exact expansions), which the client merges. The numbers are therefore
bit-identical to a single-process scan, whatever the number of workers, the order tasks finish in,
or a worker that dies and has its tasks re-run by Dask. Supports Debian 12's dask/distributed
2022.12.

Several machines (the model path and the corpus must be readable where they are used: the model
on every worker, the corpus on the client)::

    dask scheduler                       # on HOST, listens on tcp://HOST:8786
    dask worker tcp://HOST:8786 --nthreads 1 --nworkers 2   # on each machine
    >>> from dask.distributed import Client
    >>> import attnscope.distributed
    >>> df = attnscope.distributed.scan("/shared/stories260K.gguf", "corpus.txt",
    ...                                 client=Client("tcp://HOST:8786"))
"""

import threading
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from . import _core as core
from .corpus_scan import (_core_model, model_source, option_kwargs, per_prompt_frame, read_corpus,
                          summary_frame, warn_skipped)

_MODELS: Dict[Tuple[str, int], "core.Model"] = {}
_MODELS_LOCK = threading.Lock()


def worker_model(path: str, threads: int = 1) -> "core.Model":
    """The model at ``path``, loaded once per process (every task of a worker shares it).

    Mapped (``mmap``), not read into the process: a machine runs several worker processes of a
    few threads each, and mapped they share one copy of the file's pages.
    """
    key = (path, int(threads))
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = core.Model.load(path, "", int(threads), "auto", True)
            _MODELS[key] = model
        return model


def _load_here(path: str, threads: int) -> str:
    return worker_model(path, threads).source


def preload(client, model, threads: int = 1) -> Dict[str, str]:
    """Loads ``model`` on every worker now (otherwise each worker loads it with its first task);
    returns {worker address: model source}."""
    return client.run(_load_here, model_source(model), int(threads))


def run_shard(model_path: str, threads: int, shard: "core.ScanPlan", options: dict):
    """One task: every batch of ``shard`` (a ``ScanPlan.shard``); returns (units, values, stats)."""
    model = worker_model(model_path, threads)
    opts = core.ScanOptions(**options)
    stats = core.ScanStats(shard)
    units, values = [], []
    for b in range(len(shard.batches)):
        u, v = core.scan_batch(model, shard, b, opts)
        stats.add(shard, u, v)
        units.append(u)
        values.append(v)
    return np.concatenate(units), np.concatenate(values), stats


def scan(model, corpus, client=None, *, batches_per_task: int = 4, threads: int = 1, per_prompt: bool = False,
         progress: Optional[Callable[[int, int], None]] = None, **options):
    """``attnscope.scan`` on a Dask cluster; same options (except output/resume/force) and result.

    model: a path or name every worker can load (an InterpretableModel is reduced to the path it
    was loaded from). client: a ``dask.distributed.Client`` (default: the current one).
    batches_per_task: forward-pass batches per task. threads: compute threads per worker process.
    progress: called as ``progress(tasks_done, tasks_total)`` on the client.
    """
    from dask.distributed import as_completed, default_client

    client = client or default_client()
    path = model_source(model)
    local = _core_model(model)
    kwargs = option_kwargs(local, **options)
    opts = core.ScanOptions(**kwargs)
    plan = core.plan_scan(local, read_corpus(corpus, kwargs["on_bad_input"]), opts)
    warn_skipped(plan)
    if batches_per_task < 1:
        raise ValueError("batches_per_task must be >= 1")
    n = len(plan.batches)
    shards = [list(range(i, min(i + batches_per_task, n))) for i in range(0, n, batches_per_task)]
    futures = [client.submit(run_shard, path, threads, plan.shard(s), kwargs, pure=False) for s in shards]
    stats = core.ScanStats(plan)
    units, values = [], []
    done = 0
    for _future, (u, v, partial) in as_completed(futures, with_results=True):
        stats.merge(partial)  # exact: the merge order does not matter
        units.append(u)
        values.append(v)
        done += 1
        if progress is not None:
            progress(done, len(futures))
    if per_prompt:
        return per_prompt_frame(plan, np.concatenate(units), np.concatenate(values))
    return summary_frame(stats.summary())
