"""The atheris fuzz targets (fuzz/targets.py) stay runnable: each one on its seeds and on a
few deterministic mutations of them, without atheris (``make fuzz`` runs them for real)."""

import random
import sys
from pathlib import Path

import fuzzing as Z
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))

import targets


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_target_runs_on_its_seeds_and_their_mutations(name):
    run = targets.TARGETS[name].run
    seeds = targets.corpus_seeds(name)
    assert seeds, name
    rnd = random.Random(name)
    for seed in seeds:
        run(seed)
        for _ in range(5):
            run(Z.mutate(seed, Z.random_ops(rnd)))
    run(b"")
