"""Detection quality on a generated evaluation set (issue 3's quality bar).

Bulk files carry a known number of synthetic persons in the shapes data leaves in (resident
CSV in CP932, member JSON, mailing list, letters, My Number list, headerless TSV); benign
files are the traps (12-digit order ids, company lists, postcode masters, access logs,
source code, random bytes, prose). Reports per-detector precision and recall, the person
count error per bulk file, and the largest person count on a benign file.

Targets: person count within 2% on every bulk file; no benign file reaches 10 persons;
My Number precision >= 0.99 on files full of random 12-digit ids.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from synthetic import benign_samples, bulk_samples  # noqa: E402

from dlp.config import load_policy  # noqa: E402
from dlp.engine import scan  # noqa: E402
from dlp.model import Transfer  # noqa: E402


def evaluate() -> dict[str, object]:
    pol = load_policy(ROOT / "config/dlp.yaml")
    tp: dict[str, int] = {}
    fp: dict[str, int] = {}
    fn: dict[str, int] = {}
    files = []
    for sample in bulk_samples() + benign_samples():
        keys: dict[str, set[str]] = {}
        result = scan(Transfer("http", sample.data, filename=sample.name), pol.inspect,
                      pol.detectors_enabled, keys_out=keys)
        for det in set(keys) | set(sample.truth):
            if (det not in sample.truth and sample.bulk) or det in sample.unscored:
                continue  # a bulk file's other kinds (addresses, dates) are not labelled truth
            found, truth = keys.get(det, set()), sample.truth.get(det, set())
            tp[det] = tp.get(det, 0) + len(found & truth)
            fp[det] = fp.get(det, 0) + len(found - truth)
            fn[det] = fn.get(det, 0) + len(truth - found)
        error = abs(result.persons - sample.persons) / sample.persons if sample.persons else None
        files.append({"file": sample.name, "bulk": sample.bulk, "truth": sample.persons,
                      "persons": result.persons, "error": error, "findings": result.findings})
    detectors = {}
    for det in sorted(set(tp) | set(fp) | set(fn)):
        t, f, n = tp.get(det, 0), fp.get(det, 0), fn.get(det, 0)
        detectors[det] = {"precision": t / (t + f) if t + f else 1.0,
                          "recall": t / (t + n) if t + n else 1.0, "tp": t, "fp": f, "fn": n}
    bulk_errors = [f["error"] for f in files if f["bulk"]]
    benign_max = max(f["persons"] for f in files if not f["bulk"])
    return {"files": files, "detectors": detectors, "max_bulk_error": max(bulk_errors),
            "max_benign_persons": benign_max}


def main() -> None:
    report = evaluate()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    for f in report["files"]:
        err = f"{f['error']:.2%}" if f["error"] is not None else "-"
        print(f"{f['file']:22} truth {f['truth']:6} counted {f['persons']:6} error {err:>7}")
    print(f"{'detector':20} precision  recall     tp     fp     fn")
    for det, d in report["detectors"].items():
        print(f"{det:20} {d['precision']:9.4f} {d['recall']:7.4f} {d['tp']:6} {d['fp']:6} {d['fn']:6}")
    ok_bulk = report["max_bulk_error"] <= 0.02
    ok_benign = report["max_benign_persons"] < 10
    mn = report["detectors"].get("my_number", {"precision": 1.0})
    print(f"targets: bulk count error <= 2%: {'OK' if ok_bulk else 'MISSED'} "
          f"(max {report['max_bulk_error']:.2%}); benign < 10 persons: {'OK' if ok_benign else 'MISSED'} "
          f"(max {report['max_benign_persons']}); my_number precision >= 0.99: "
          f"{'OK' if mn['precision'] >= 0.99 else 'MISSED'} ({mn['precision']:.4f})")


if __name__ == "__main__":
    main()
