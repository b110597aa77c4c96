"""How many intra-op threads a CPU model uses, chosen from the work of one step.

On a small machine the best count depends on the model: a small MLP step runs faster on one
thread (hand-offs between threads cost more than they save), a convolutional net on all of
them. kiln estimates the floating-point operations of one forward pass on the first batch
(`forward_flops`) and uses one thread below `SMALL_STEP_FLOPS`. The choice depends only on the
model and the batch shape, never on timings, so the same script gives bit-identical weights.
The measurements behind the threshold: bench/bench_threads.py.

The estimate uses forward hooks rather than torch's `FlopCounterMode`: entering any torch
dispatch mode imports TorchDynamo, which added seconds to the first `fit` of every program.
"""

import torch

# Below this many forward FLOPs per batch one thread was faster on 2 cores (MLPs up to a
# 784-300-100-10 net at batch 128, about 8e7), above it all threads (a small conv net, 1.6e8).
SMALL_STEP_FLOPS = 100_000_000


def threads_for(model, x):
    """Returns 1 when one forward pass of `model` on batch `x` is small work, else None (keep
    torch's thread count)."""
    if torch.get_num_threads() == 1:
        return None
    return 1 if forward_flops(model, x) < SMALL_STEP_FLOPS else None


def forward_flops(model, x):
    """Estimates the FLOPs of one forward pass of `model` on batch `x`.

    Each weight matrix or kernel counts 2 (a multiply and an add) per weight per position it is
    applied at, taken from the innermost module that ran with it (a recurrent layer's fused call
    runs its cell's weights): the elements of that module's input or output, whichever has more,
    over their last (channels-last feature) axis, i.e. the batch times the time steps or pixels.
    This is the exact multiply-add count of dense layers, stride-1 convolutions and recurrent
    layers; strided convolutions are over-counted by their stride's area.
    """
    positions = {}

    def record(module, inputs, output):
        tensors = [t for t in (*inputs, *(output if isinstance(output, tuple) else (output,)))
                   if isinstance(t, torch.Tensor) and t.ndim >= 2 and t.shape[-1]]
        positions[module] = positions.get(module, 0) + max(
            (t.numel() // t.shape[-1] for t in tensors), default=0)

    depths = {}
    for name, module in model.named_modules():
        depths.setdefault(module, name.count(".") + bool(name))
    handles = [module.register_forward_hook(record) for module in depths]
    try:
        with torch.no_grad():
            model(x, training=False)
    finally:
        for handle in handles:
            handle.remove()
    total, counted = 0, set()
    for module in sorted(positions, key=depths.get, reverse=True):  # innermost first
        for weight in module.parameters():
            if weight.ndim >= 2 and id(weight) not in counted:
                counted.add(id(weight))
                total += 2 * weight.numel() * positions[module]
    return total


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
