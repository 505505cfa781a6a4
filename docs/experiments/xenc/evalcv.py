"""Refusal regression under grouped CV (the cross-encoder's folds): baseline features vs + cross-encoder score."""
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, "var/xenc")
from train import folds_of  # noqa: E402

BASE = ("anchor", "topicgap", "lift", "qlift")


def x_of(rows, feats, scores, extra):
    out = []
    for i, r in enumerate(rows):
        v = [r["features"][k] for k in feats]
        s = scores.get(str(i)) if scores else None
        if "x1" in extra:
            v.append(s[0])
        if "x3" in extra:
            v.append(max(s))
        if "xg" in extra:  # cross-encoder score less the best of the others in the top 3 is not used; placeholder
            v.append(s[0] - max(s))
        out.append(v)
    return np.array(out)


def cv(rows, x, fold_of, c=30.0, thresholds=(0.3, 0.35, 0.4, 0.45, 0.5)):
    y = np.array([r["label"] for r in rows])
    w = np.array([r["weight"] for r in rows])
    p = np.zeros(len(rows))
    for k in sorted(set(fold_of)):
        tr = np.array([f != k for f in fold_of])
        m = LogisticRegression(C=c, max_iter=1000).fit(x[tr], y[tr], sample_weight=w[tr])
        # coefficients rounded to 3 decimals, as bench.fit_rows writes them to oos.yml
        logit = np.round(m.intercept_[0], 3) + x[~tr] @ np.round(m.coef_[0], 3)
        p[~tr] = 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
    res = {}
    for t in list(thresholds) + [round(v, 2) for v in np.arange(0.2, 0.61, 0.01)]:
        cases = []
        for name in dict.fromkeys(r["set"] for r in rows):
            for lib in (False, True):
                idx = [i for i, r in enumerate(rows) if r["set"] == name and r["library"] == lib]
                off = [p[i] < t for i in idx if y[i] == 0]
                inn = [p[i] < t for i in idx if y[i] == 1]
                cases.append((name, lib, np.mean(off) if off else np.nan, np.mean(inn) if inn else np.nan))
        res[t] = cases
    return res


NEW = {"hanney-pre-school-mobile-phones-cameras", "burbage-preschool-mobile-phones-cameras",
       "little-nipperz-camera-mobile-phone", "co-op-academy-broadhurst-mobile-phones", "park-high-staff-ict-acceptable-use",
       "coldean-primary-staff-acceptable-use", "co-op-academy-brownhill-online-safety", "park-hill-primary-photographic-images"}


def at_equal(res, cap=0.051):
    """Best mean off-topic refused over thresholds whose mean in-scope refused is at most `cap`."""
    ok = [(np.nanmean([c[2] for c in v]), t) for t, v in res.items() if np.nanmean([c[3] for c in v]) <= cap]
    off, t = max(ok)
    return f"  at in-scope <= {cap:.1%}: {off:.1%} off-topic (threshold {t})"


def line(cases):
    off = [c[2] for c in cases]
    inn = [c[3] for c in cases]
    new = [c for c in cases if c[0] in NEW]
    return (f"{np.nanmean(off):.1%} / {np.nanmean(inn):.1%}  worst {np.nanmin(off):.0%} / {np.nanmax(inn):.0%}"
            f"  (new 8: {np.nanmean([c[2] for c in new]):.1%} / {np.nanmean([c[3] for c in new]):.1%})")


if __name__ == "__main__":
    rows = json.load(open("var/xenc/rows.json"))["rows"]
    fold = folds_of(rows)
    six = [fold[r["policy"]] for r in rows]
    lopo = [r["policy"] for r in rows]
    print("baseline LOPO (check 87.2/5.1 at 0.40):")
    res = cv(rows, x_of(rows, BASE, None, ()), lopo)
    print(f"  0.4: {line(res[0.4])}")
    print("baseline, 6 folds:")
    res = cv(rows, x_of(rows, BASE, None, ()), six)
    for t in (0.3, 0.35, 0.4, 0.45, 0.5):
        print(f"  {t}: {line(res[t])}")
    print(at_equal(res))
    for name in sys.argv[1:]:
        scores = json.load(open(f"var/xenc/scores-{name}.json"))
        keep = [i for i in range(len(rows)) if str(i) in scores]
        if len(keep) < len(rows):
            print(f"{name}: only {len(keep)} rows scored")
            continue
        for extra in (("x1",), ("x3",), ("x1", "x3")):
            print(f"+ {name} {'+'.join(extra)}, 6 folds:")
            res = cv(rows, x_of(rows, BASE, scores, extra), six)
            for t in (0.3, 0.35, 0.4, 0.45, 0.5):
                print(f"  {t}: {line(res[t])}")
            print(at_equal(res))
        print(f"  {name} alone (x1 only, 6 folds):")
        res = cv(rows, x_of(rows, (), scores, ("x1",)), six)
        print(f"  0.4: {line(res[0.4])}")
