#!/usr/bin/python3
"""Side-by-side churn benchmark: sextant, XGBoost and scikit-learn.

Runs `sextant bench churn --json` and, on the SAME folds of the same CSV,
XGBoost (tree_method="hist", native categorical splits) and scikit-learn's
HistGradientBoostingClassifier (native categorical features), then prints
the three side by side with ratios.

Same protocol for all three (fixed beforehand, not tuned on the folds):
  * 5-fold cross-validation, folds stratified by label: within each class
    rows are ordered by splitmix64(seed + row index) and dealt round-robin
    (churn.Folds in Go computes the identical assignment);
  * learning rate 0.05, max depth 3, up to 1000 rounds, early stopping after
    50 rounds without validation log-loss improvement; L2 = 1, min child
    weight (hessian) 1, 255 bins; one thread;
  * early-stopping hold-out: inner fold 0 of Folds(train labels, 10,
    seed + fold + 1) for sextant and XGBoost (the very same rows);
    scikit-learn 1.2 cannot take an external validation set, so it holds
    out its own stratified 10% (validation_fraction=0.1);
  * calibration: Platt scaling cross-fitted on out-of-fold predictions
    (fold k calibrated by a fit on the other folds), for all three;
  * metrics per fold, then the mean over folds: AUC, PR-AUC (average
    precision), log-loss, Brier; ECE (10 equal-width bins) over all
    out-of-fold predictions together (binned ECE grows as the sample
    shrinks, so a mean of per-fold ECEs mostly measures fold size);
  * train_seconds: mean per-fold fit time; score_rows_per_s: a 100-tree
    depth-6 model trained on all rows scores all rows in a batch on one
    thread, repeated for about 2 s. Both in process CPU time by default
    (--clock cpu: a busy shared machine distorts wall time), or wall time.

Needs Debian's python3-xgboost, python3-sklearn and python3-numpy.
Usage (from the repository root):
  go build -o /tmp/sextant ./cmd/sextant
  /usr/bin/python3 bench/churn_peer.py --sextant /tmp/sextant \
      --data ../shared/data/telco-customer-churn/Telco-Customer-Churn.csv \
      --target Churn --drop customerID
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.metrics import average_precision_score, roc_auc_score  # noqa: E402

M64 = (1 << 64) - 1
MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}
KEYS = ["rows", "folds", "auc", "pr_auc", "logloss", "brier", "ece", "train_seconds", "score_rows_per_s"]


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def folds(y, k, seed):
    """churn.Folds: stratified, splitmix64-ordered, round-robin."""
    out = np.zeros(len(y), dtype=int)
    for cls in (0, 1):
        idx = [i for i in range(len(y)) if (y[i] == 1) == (cls == 1)]
        idx.sort(key=lambda i: (splitmix64((seed + i) & M64), i))
        for r, i in enumerate(idx):
            out[i] = r % k
    return out


def load(path, target, positive, drop):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header, rows = [h.strip() for h in rows[0]], rows[1:]
    if target not in header:
        sys.exit(f"{path}: no target column {target!r}")
    ti = header.index(target)
    labels = [r[ti].strip() for r in rows]
    if not positive:
        for v in sorted(set(labels)):
            if v.lower() in ("yes", "true", "1", "y", "t"):
                positive = v
    y = np.array([1 if v == positive else 0 for v in labels])
    cols, X, is_cat = [], [], []
    for j, name in enumerate(header):
        if j == ti or name in drop:
            continue
        vals = [r[j].strip() for r in rows]
        present = [v for v in vals if v.lower() not in MISSING]
        try:
            [float(v) for v in present]
            numeric = True
        except ValueError:
            numeric = False
        if numeric:
            X.append([float(v) if v.lower() not in MISSING else np.nan for v in vals])
            is_cat.append(False)
        else:
            counts = {}
            for v in present:
                counts[v] = counts.get(v, 0) + 1
            levels = sorted(counts, key=lambda v: (-counts[v], v))
            code = {v: i for i, v in enumerate(levels)}
            X.append([code[v] if v in code else np.nan for v in vals])
            is_cat.append(True)
        cols.append(name)
    return np.array(X, dtype=np.float64).T, y, cols, is_cat


def logit(p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def fit_platt(y, p):
    """churn.fitPlatt: Newton on logit(p) with Platt's smoothed targets."""
    npos, nneg = float((y == 1).sum()), float((y != 1).sum())
    t = np.where(y == 1, (npos + 1) / (npos + 2), 1 / (nneg + 2))
    x = logit(p)
    a, b = 1.0, 0.0
    for _ in range(100):
        q = 1 / (1 + np.exp(-(a * x + b)))
        d = q - t
        w = np.maximum(q * (1 - q), 1e-12)
        g0, g1 = (d * x).sum(), d.sum()
        h00, h01, h11 = (w * x * x).sum() + 1e-9, (w * x).sum(), w.sum() + 1e-9
        det = h00 * h11 - h01 * h01
        if det == 0:
            break
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        a, b = a - da, b - db
        if abs(da) < 1e-10 and abs(db) < 1e-10:
            break
    return lambda p: 1 / (1 + np.exp(-(a * logit(p) + b)))


def ece(y, p, bins=10):
    b = np.clip((p * bins).astype(int), 0, bins - 1)
    e = 0.0
    for k in range(bins):
        m = b == k
        if m.any():
            e += m.sum() * abs(p[m].mean() - y[m].mean())
    return e / len(y)


def metrics(y, p):
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "logloss": float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean()),
        "brier": float(((p - y) ** 2).mean()),
        "ece": ece(y, p),
    }


def make_xgb(cat, seed, rounds=1000, depth=3, lr=0.05, early=50):
    return xgb.XGBClassifier(
        n_estimators=rounds, learning_rate=lr, max_depth=depth, min_child_weight=1, reg_lambda=1, reg_alpha=0,
        max_bin=255, tree_method="hist", enable_categorical=True,
        feature_types=["c" if c else "q" for c in cat], nthread=1, random_state=seed,
        early_stopping_rounds=early or None, eval_metric="logloss")


def make_hgb(cat, seed, rounds=1000, depth=3, lr=0.05, early=50):
    return HistGradientBoostingClassifier(
        learning_rate=lr, max_iter=rounds, max_depth=depth, max_leaf_nodes=None, l2_regularization=1.0,
        max_bins=255, categorical_features=np.array(cat), early_stopping=bool(early), validation_fraction=0.1,
        n_iter_no_change=early or 10, scoring="loss", random_state=seed)


def clock_now(kind):
    return time.process_time() if kind == "cpu" else time.perf_counter()


def run_peer(name, X, y, cat, k, seed, clock, score_seconds):
    fold = folds(y, k, seed)
    raw = np.zeros(len(y))
    times, rounds = [], []
    for f in range(k):
        tr = np.where(fold != f)[0]
        te = np.where(fold == f)[0]
        if name == "xgboost":
            inner = folds(y[tr], 10, seed + f + 1)
            fit, val = tr[inner != 0], tr[inner == 0]
            m = make_xgb(cat, seed)
            t0 = clock_now(clock)
            m.fit(X[fit], y[fit], eval_set=[(X[val], y[val])], verbose=False)
            times.append(clock_now(clock) - t0)
            rounds.append(m.best_iteration + 1)
        else:
            m = make_hgb(cat, seed)
            t0 = clock_now(clock)
            m.fit(X[tr], y[tr])
            times.append(clock_now(clock) - t0)
            rounds.append(m.n_iter_)
        raw[te] = m.predict_proba(X[te])[:, 1]
    cal = np.zeros(len(y))
    for f in range(k):
        platt = fit_platt(y[fold != f], raw[fold != f])
        cal[fold == f] = platt(raw[fold == f])
    per = [metrics(y[fold == f], cal[fold == f]) for f in range(k)]
    res = {"rows": len(y), "folds": k}
    for key in ["auc", "pr_auc", "logloss", "brier"]:
        res[key] = float(np.mean([m[key] for m in per]))
    res["ece"] = ece(y, cal)  # pooled out of fold, as sextant reports it
    res["_ece_fold_mean"] = float(np.mean([m["ece"] for m in per]))
    res["train_seconds"] = float(np.mean(times))
    res["score_rows_per_s"] = score_speed(name, X, y, cat, seed, clock, score_seconds)
    res["_rounds"] = rounds
    return res


def score_speed(name, X, y, cat, seed, clock, seconds):
    if name == "xgboost":
        m = make_xgb(cat, seed, rounds=100, depth=6, lr=0.1, early=0)
        m.set_params(min_child_weight=1e-3)
    else:
        m = make_hgb(cat, seed, rounds=100, depth=6, lr=0.1, early=0)
        m.set_params(min_samples_leaf=1)
    m.fit(X, y)
    m.predict_proba(X)
    n, start, c0 = 0, time.perf_counter(), clock_now(clock)
    while time.perf_counter() - start < seconds:
        m.predict_proba(X)
        n += len(y)
    return n / (clock_now(clock) - c0)


def run_sextant(cmd, args):
    argv = cmd.split() + ["bench", "churn", "--json", "--data", args.data, "--target", args.target,
                          "--folds", str(args.folds), "--seed", str(args.seed), "--clock", args.clock,
                          "--score-seconds", str(args.score_seconds)]
    if args.positive:
        argv += ["--positive", args.positive]
    if args.drop:
        argv += ["--drop", args.drop]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--positive", default="")
    ap.add_argument("--drop", default="")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved runs; timings are medians")
    ap.add_argument("--sextant", default="go run ./cmd/sextant", help="command that runs sextant")
    ap.add_argument("--sextant-json", default="", help="read sextant's `bench churn --json` line from this file "
                    "instead of running it (then --repeat applies to the peers only)")
    ap.add_argument("--score-seconds", type=float, default=2.0, help="how long each scoring measurement runs")
    ap.add_argument("--json", action="store_true", help="print one JSON line per engine")
    args = ap.parse_args()

    X, y, cols, cat = load(args.data, args.target, args.positive, set(filter(None, args.drop.split(","))))
    runs = {"sextant": [], "xgboost": [], "sklearn": []}
    for _ in range(args.repeat):
        if args.sextant_json:
            with open(args.sextant_json) as f:
                runs["sextant"].append(json.loads(f.read().strip().splitlines()[-1]))
        else:
            runs["sextant"].append(run_sextant(args.sextant, args))
        runs["xgboost"].append(run_peer("xgboost", X, y, cat, args.folds, args.seed, args.clock, args.score_seconds))
        runs["sklearn"].append(run_peer("sklearn", X, y, cat, args.folds, args.seed, args.clock, args.score_seconds))
    res = {}
    for name, rs in runs.items():
        r = dict(rs[0])
        for key in ("train_seconds", "score_rows_per_s"):
            r[key] = float(np.median([x[key] for x in rs]))
        res[name] = r
    if args.json:
        for name, r in res.items():
            print(json.dumps({"engine": name, **{k: r[k] for k in KEYS}}))
        return
    print(f"{args.data}: {len(y)} rows, {len(cols)} features ({sum(cat)} categorical), {int(y.sum())} positive; "
          f"{args.folds} folds, seed {args.seed}; xgboost {xgb.__version__}, scikit-learn {sklearn.__version__}; "
          f"train_seconds in {args.clock} time, medians of {args.repeat} run(s)")
    print(f"{'metric':18s} {'sextant':>12s} {'xgboost':>12s} {'sklearn':>12s} {'sx/xgb':>8s} {'sx/skl':>8s}")
    for key in KEYS[2:]:
        s, x, k = res["sextant"][key], res["xgboost"][key], res["sklearn"][key]
        fmt = "{:12.0f}" if key == "score_rows_per_s" else "{:12.4f}"
        ratio = lambda a, b: f"{a / b:8.3f}" if b else "       -"
        print(f"{key:18s} {fmt.format(s)} {fmt.format(x)} {fmt.format(k)} {ratio(s, x)} {ratio(s, k)}")
    print(f"rounds kept per fold: xgboost {res['xgboost']['_rounds']}, sklearn {res['sklearn']['_rounds']}; "
          f"mean of per-fold ECEs: xgboost {res['xgboost']['_ece_fold_mean']:.4f}, sklearn {res['sklearn']['_ece_fold_mean']:.4f}")


if __name__ == "__main__":
    main()
