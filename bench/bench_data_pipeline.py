"""kiln.data's input pipeline against a torch DataLoader over the same arrays, side by side.

Measures rows per second delivered by

    kiln:  Dataset.from_tensor_slices((X, y)).shuffle(10_000).batch(32).prefetch(1)
    torch: DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)

and a few other shapes of pipeline (no shuffle, an element-wise map before batching, a parallel
map), for the California-housing-sized regression data of chapter 10 (8 float features). Each
pipeline is read to the end a few times in interleaved rounds; the best round counts. Ratios above
1.0 mean kiln delivers more rows per second.

Usage: python bench/bench_data_pipeline.py [--rows 100000]
"""

import argparse
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from kiln.data import AUTOTUNE, Dataset


def rows_per_second(make_iterable, rows, rounds=3):
    """Best rows/s over `rounds` full passes (a new iterator each pass, as fit does per epoch)."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in make_iterable():
            pass
        best = max(best, rows / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    torch.manual_seed(0)
    X, y = torch.randn(rows, 8), torch.randn(rows, 1)
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
    loader_map = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,
                            collate_fn=lambda rows_: tuple(torch.stack(c) * 2 for c in zip(*rows_)))
    source = Dataset.from_tensor_slices((X, y))
    cases = [
        ("shuffle(10000).batch(32).prefetch(1)", loader,
         source.shuffle(10_000).batch(32).prefetch(1)),
        ("batch(32) (no shuffle)", DataLoader(TensorDataset(X, y), batch_size=32),
         source.batch(32)),
        ("map(x * 2) per row, shuffle, batch(32)", loader_map,
         source.map(lambda a, b: (a * 2, b * 2)).shuffle(10_000).batch(32).prefetch(1)),
        ("parallel map(AUTOTUNE) per row, batch(32)", loader_map,
         source.map(lambda a, b: (a * 2, b * 2), num_parallel_calls=AUTOTUNE).batch(32)),
    ]
    print(f"{rows} rows of 8 features, torch {torch.__version__}, "
          f"{torch.get_num_threads()} intra-op threads")
    print(f"{'pipeline':45s} {'kiln rows/s':>12s} {'DataLoader':>12s} {'ratio':>6s}")
    for name, reference, dataset in cases:
        kiln_rate = rows_per_second(lambda: dataset, rows)
        torch_rate = rows_per_second(lambda: reference, rows)
        print(f"{name:45s} {kiln_rate:12,.0f} {torch_rate:12,.0f} {kiln_rate / torch_rate:6.2f}")


if __name__ == "__main__":
    main()
