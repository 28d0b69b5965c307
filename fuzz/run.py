"""Run one fuzz target under atheris (libFuzzer, coverage-guided) for a bounded time.

    fuzz/run.py --list                       the targets, one per line
    fuzz/run.py zip --seconds 60             fuzz the zip handler for a minute
    fuzz/run.py zip var/fuzz/zip/crash-…     replay one input (a crash the fuzzer saved)

The corpus lives in var/fuzz/<target>/corpus (started from tests/fuzzing.py's seeds, kept
between runs so coverage accumulates); inputs that make the target fail are saved in
var/fuzz/<target>/ as crash-*, timeout-* or oom-* for replay. Only dlp and the format
libraries it calls are instrumented. ``make fuzz`` runs every target FUZZ_SECONDS each.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fuzz"))

INSTRUMENTED = ["dlp", "pypdf", "openpyxl", "xlrd", "olefile", "py7zr", "striprtf", "defusedxml", "ijson",
                "msoffcrypto", "charset_normalizer", "email", "zipfile", "tarfile", "csv", "html", "json"]
"""Packages whose code the fuzzer is guided by (branch coverage)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?")
    parser.add_argument("inputs", nargs="*", help="replay these files instead of fuzzing")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time (default 60)")
    parser.add_argument("--rss-limit-mb", type=int, default=3072)
    args, libfuzzer_args = parser.parse_known_args()
    if args.list or not args.target:
        import targets
        print("\n".join(targets.TARGETS))
        return 0

    import atheris
    # atheris writes a line per instrumented module
    with contextlib.redirect_stderr(io.StringIO()), atheris.instrument_imports(include=INSTRUMENTED):
        import openpyxl  # noqa: F401
        import pypdf  # noqa: F401
        import targets

        import dlp.engine
        import dlp.extract
        import dlp.extract.sevenzip  # noqa: F401

    if args.target not in targets.TARGETS:
        parser.error(f"unknown target {args.target!r}; --list shows them")
    run = targets.TARGETS[args.target].run

    if args.inputs:  # replay
        for path in args.inputs:
            print(f"replaying {path}", flush=True)
            run(Path(path).read_bytes())
        print("no finding")
        return 0

    work = ROOT / "var" / "fuzz" / args.target
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = targets.corpus_seeds(args.target)
    for seed in seeds:
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    max_len = max(64 * 1024, 2 * max(map(len, seeds)))

    def one_input(data: bytes) -> None:
        run(data)

    argv = [sys.argv[0], str(corpus), f"-max_total_time={args.seconds}", f"-rss_limit_mb={args.rss_limit_mb}",
            f"-timeout={int(targets.Z.LIMITS.timeout * 4)}", f"-max_len={max_len}",
            f"-artifact_prefix={work}/", "-print_final_stats=1", *libfuzzer_args]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
