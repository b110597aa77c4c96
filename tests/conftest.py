"""Shared fixtures: a fresh name counter and seed per test, and the dataset cache location."""

import os
from pathlib import Path

import pytest

import kiln

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
if "KILN_DATASETS" not in os.environ and SHARED_DATASETS.is_dir():
    os.environ["KILN_DATASETS"] = str(SHARED_DATASETS)


@pytest.fixture(autouse=True)
def _fresh_session():
    kiln.utils.clear_session()
    kiln.utils.set_random_seed(42)
    yield

# The shared layer-contract helper lives beside the layer tests.
import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "layers"))
