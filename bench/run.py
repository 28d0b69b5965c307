"""Run every benchmark in bench/ (``make bench``) and print their reports."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        failed |= subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
    sys.exit(failed)
