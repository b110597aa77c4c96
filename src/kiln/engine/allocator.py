"""Keeps freed CPU memory in the process, so that each training step does not page-fault.

torch allocates every activation and gradient with the C library's `malloc`. glibc hands a
freed block back to the operating system once the free space at the top of its heap passes a
threshold, and the next step then faults each 4 KiB page in again (and the kernel zeroes it).
A training step of the book's ResNet-34 (batch 32, 64x64 images) freed its ~85 MB of gradients
at once and faulted them in again on the next step: 26,000 page faults, 1.12x the time of a
torch.nn loop, whose allocation order happened to dodge the threshold; both fault nothing, and
kiln runs at 1.03x, once the threshold is fixed (bench/bench_resnet.py). So, on glibc, kiln sets
`M_TRIM_THRESHOLD` to 1 GiB (at most 1 GiB of freed heap stays in the process) and
`M_MMAP_THRESHOLD` to 32 MiB (its usual adaptive maximum: blocks up to that size come from the
heap, which keeps them). Set ``KILN_TUNE_MALLOC=0`` before importing kiln to leave malloc alone.
"""

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 1 << 30
MMAP_THRESHOLD = 32 << 20


def tune_malloc():
    """Sets glibc's trim and mmap thresholds (see the module docstring); returns whether it did.

    Does nothing (and returns False) with another C library or ``KILN_TUNE_MALLOC=0``.
    """
    if os.environ.get("KILN_TUNE_MALLOC", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl's mallopt does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
