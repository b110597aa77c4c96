"""kiln keeps freed CPU memory in the process (kiln.engine.allocator)."""

import ctypes.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or "libc.so" not in (ctypes.util.find_library("c") or ""),
    reason="malloc tuning applies to glibc")

# A fresh interpreter: importing kiln tunes malloc; then steps that allocate 24 MiB in 3 MiB
# blocks and free them at once (as a training step's gradients) count their page faults.
STEPS = """
import resource, torch, kiln
from kiln.engine import allocator
def step():
    blocks = [torch.ones(768, 1024) for _ in range(8)]
    return sum(float(block[0, 0]) for block in blocks)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(allocator.tune_malloc(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run_steps(tune):
    environment = {**os.environ, "KILN_TUNE_MALLOC": "1" if tune else "0"}
    result = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True,
                            env=environment, check=True)
    tuned, faults = result.stdout.split()
    return tuned == "True", int(faults)


def test_freed_blocks_are_reused_without_page_faults():
    tuned, faults = run_steps(tune=True)
    assert tuned
    assert faults < 2_000  # 10 steps of 6,000 pages each; glibc alone can fault them all in


def test_the_tuning_can_be_turned_off():
    tuned, _ = run_steps(tune=False)
    assert not tuned
