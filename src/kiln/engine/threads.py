"""How many intra-op threads a CPU model uses, chosen from the work of one step.

On a small machine the best count depends on the model: a small MLP step runs faster on one
thread (hand-offs between threads cost more than they save), a convolutional net on all of
them. kiln counts the floating-point operations of one forward pass on the first batch (torch's
own FLOP counter) and uses one thread below `SMALL_STEP_FLOPS`. The choice depends only on the
model and the batch shape, never on timings, so the same script gives bit-identical weights.
The measurements behind the threshold: bench/bench_threads.py.
"""

import torch
from torch.utils.flop_counter import FlopCounterMode

# Below this many forward FLOPs per batch one thread was faster on 2 cores (MLPs up to a
# 784-300-100-10 net at batch 128, about 8e7), above it all threads (a small conv net, 1.6e8).
SMALL_STEP_FLOPS = 100_000_000


def threads_for(model, x):
    """Returns 1 when one forward pass of `model` on batch `x` is small work, else None (keep
    torch's thread count)."""
    if torch.get_num_threads() == 1:
        return None
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, training=False)
    return 1 if counter.get_total_flops() < SMALL_STEP_FLOPS else None


class thread_count:
    """Runs a block with `threads` intra-op threads (None: unchanged), then restores the count."""

    def __init__(self, threads):
        self.threads = threads

    def __enter__(self):
        self.previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)
