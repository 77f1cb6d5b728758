#!/usr/bin/python3
"""hnswlib side of `sextant bench ann --peer hnswlib`.

Reads the same base/query vectors (.fvecs) and exact ground truth (.ivecs)
that sextant wrote, builds an hnswlib index with the same M and
efConstruction on ONE thread, and measures the same efSearch sweep on ONE
thread. Prints JSON lines with sextant's keys (engine, param, ef,
recall_at_10, qps, p50_us, p99_us, build_seconds, memory_bytes).

QPS is the median over ten slices of the queries, each sent as one batched
knn_query call with num_threads=1, so the Python call overhead is paid once
per slice, not per query; p50/p99 come
from per-query calls and so include about a microsecond or two of Python
overhead each.

Modes: --serve (used by sextant) prints {"event":"ready",...} after the build
and runs one sweep per "sweep" line on stdin, each ending with
{"event":"done"}; without --serve it runs one sweep and exits.

Needs Debian's python3-hnswlib and python3-numpy.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import hnswlib


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        sys.exit(f"{path}: empty")
    dim = int(raw[0])
    if dim <= 0 or raw.size % (dim + 1) != 0:
        sys.exit(f"{path}: not a .{'f' if dtype == np.float32 else 'i'}vecs file of one dimension")
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        sys.exit(f"{path}: records of different dimensions")
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--space", default="cosine", choices=["cosine", "ip", "l2"])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", default="16,32,64,128,256")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()

    base = read_vecs(a.base, np.float32)
    queries = read_vecs(a.queries, np.float32)
    gt = read_vecs(a.gt, np.int32)[:, :10]
    efs = [int(x) for x in a.ef.split(",")]
    n, dim = base.shape

    rss0 = rss_bytes()
    idx = hnswlib.Index(space=a.space, dim=dim)
    idx.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction, random_seed=a.seed)
    idx.set_num_threads(1)
    t0 = time.perf_counter()
    idx.add_items(base, np.arange(n), num_threads=1)
    build = time.perf_counter() - t0
    mem = rss_bytes() - rss0
    try:
        import importlib.metadata
        version = importlib.metadata.version("hnswlib")
    except Exception:  # noqa: BLE001 - the version is informational only
        version = getattr(hnswlib, "__version__", "?")
    param = f"M={a.m},efC={a.ef_construction},space={a.space},hnswlib={version}"

    def sweep():
        for ef in efs:
            idx.set_ef(ef)
            warm = queries[: min(len(queries), 200)]
            idx.knn_query(warm, k=a.k, num_threads=1)
            # QPS: median over ten slices, each one batched call (as sextant
            # measures), so a burst of load elsewhere spoils one slice only.
            rates, parts = [], []
            for s in range(10):
                lo, hi = s * len(queries) // 10, (s + 1) * len(queries) // 10
                if lo == hi:
                    continue
                t0 = time.perf_counter()
                lab, _ = idx.knn_query(queries[lo:hi], k=a.k, num_threads=1)
                rates.append((hi - lo) / (time.perf_counter() - t0))
                parts.append(lab)
            rates.sort()
            labels = np.concatenate(parts)
            lat = []
            for q in queries:
                q1 = q.reshape(1, -1)
                s = time.perf_counter_ns()
                idx.knn_query(q1, k=a.k, num_threads=1)
                lat.append((time.perf_counter_ns() - s) / 1e3)
            lat.sort()
            hits = sum(len(set(labels[i, :10].tolist()) & set(gt[i].tolist())) for i in range(len(queries)))
            emit({
                "engine": "hnswlib", "param": param, "ef": ef,
                "recall_at_10": hits / (len(queries) * gt.shape[1]),
                "qps": rates[len(rates) // 2],
                "p50_us": lat[max(0, -(-len(lat) * 50 // 100) - 1)],
                "p99_us": lat[max(0, -(-len(lat) * 99 // 100) - 1)],
                "build_seconds": build, "memory_bytes": mem,
            })

    if not a.serve:
        sweep()
        return
    emit({"event": "ready", "engine": "hnswlib", "param": param, "build_seconds": build,
          "memory_bytes": mem, "note": "memory = RSS growth during the build"})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "sweep":
            sweep()
            emit({"event": "done"})
        elif cmd in ("quit", ""):
            break
        else:
            sys.exit(f"ann_peer: unknown command {cmd!r}")


if __name__ == "__main__":
    main()
