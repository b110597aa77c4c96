"""Shared timing helper of the benchmarks (imported by the scripts in this folder)."""

import time


def best_seconds_per_call(functions, rounds=7, calls=30, warmup=5, synchronize=None):
    """Times each function in interleaved rounds and returns the best seconds per call of each.

    Interleaving and keeping each one's best round resist the noise of other processes better
    than one long run. `synchronize` (e.g. `torch.cuda.synchronize`) is called before the clock
    starts and stops, so that work queued on an accelerator is counted.
    """
    synchronize = synchronize or (lambda: None)
    best = [float("inf")] * len(functions)
    for function in functions:
        for _ in range(warmup):
            function()
    for _ in range(rounds):
        for index, function in enumerate(functions):
            synchronize()
            start = time.perf_counter()
            for _ in range(calls):
                function()
            synchronize()
            best[index] = min(best[index], (time.perf_counter() - start) / calls)
    return best
