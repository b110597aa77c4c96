"""Shared timing helper of the benchmarks (imported by the scripts in this folder)."""

import time


def best_seconds_per_call(functions, rounds=7, calls=30, warmup=5):
    """Times each function in interleaved rounds and returns the best seconds per call of each.

    Interleaving and keeping each one's best round resist the noise of other processes better
    than one long run.
    """
    best = [float("inf")] * len(functions)
    for function in functions:
        for _ in range(warmup):
            function()
    for _ in range(rounds):
        for index, function in enumerate(functions):
            start = time.perf_counter()
            for _ in range(calls):
                function()
            best[index] = min(best[index], (time.perf_counter() - start) / calls)
    return best
