"""kiln.data's input pipeline against a torch DataLoader over the same arrays, side by side.

Rows per second delivered by (among others)

    kiln:  Dataset.from_tensor_slices((X, y)).shuffle(10_000).batch(32).prefetch(1)
    torch: DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)

for chapter-10-sized regression data (8 float features), each pipeline read to the end in
interleaved rounds, the best round counting; ratios above 1.0 mean kiln delivers more rows per
second. Then the chapter-10 MLP (Dense 30 relu, Dense 1, SGD) is trained from in-memory arrays
and from the Dataset, and the time per step of each is printed with their ratio.

Usage: python bench/bench_data_pipeline.py [--rows 100000]
"""

import argparse
import time

import torch
from torch.utils.data import DataLoader, Dataset as TorchDataset, TensorDataset

import kiln
from kiln.data import AUTOTUNE, Dataset


class RowMapped(TorchDataset):
    """A map-style torch dataset applying `function` to each row, the DataLoader way to map."""

    def __init__(self, X, y, function):
        self.X, self.y, self.function = X, y, function

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return self.function(self.X[index], self.y[index])


def double(x, y):
    return x * 2, y * 2


def best_rows_per_second(pipelines, rows, rounds=3):
    """Best rows/s of each pipeline over interleaved full passes (a new iterator each pass, as
    fit makes one per epoch)."""
    best = [0.0] * len(pipelines)
    for _ in range(rounds):
        for index, pipeline in enumerate(pipelines):
            start = time.perf_counter()
            for _ in pipeline:
                pass
            best[index] = max(best[index], rows / (time.perf_counter() - start))
    return best


def seconds_per_step(x, epochs=3, **fit_arguments):
    kiln.utils.set_random_seed(0)
    model = kiln.Sequential([kiln.Input(shape=[8]), kiln.layers.Dense(30, activation="relu"),
                             kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, epochs=1, verbose=0, **fit_arguments)
    start = time.perf_counter()
    history = model.fit(x, epochs=epochs, verbose=0, **fit_arguments)
    return (time.perf_counter() - start) / (epochs * history.params["steps"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    torch.manual_seed(0)
    X, y = torch.randn(rows, 8), torch.randn(rows, 1)
    source = Dataset.from_tensor_slices((X, y))
    cases = [
        ("shuffle(10000).batch(32).prefetch(1)", source.shuffle(10_000).batch(32).prefetch(1),
         DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)),
        ("batch(32), no shuffle", source.batch(32),
         DataLoader(TensorDataset(X, y), batch_size=32)),
        ("map per row, shuffle, batch(32), prefetch(1)",
         source.map(double).shuffle(10_000).batch(32).prefetch(1),
         DataLoader(RowMapped(X, y, double), batch_size=32, shuffle=True)),
        ("map per row (AUTOTUNE threads), batch(32)",
         source.map(double, num_parallel_calls=AUTOTUNE).batch(32),
         DataLoader(RowMapped(X, y, double), batch_size=32)),
    ]
    print(f"{rows} rows of 8 features, torch {torch.__version__}, "
          f"{torch.get_num_threads()} intra-op threads")
    print(f"{'pipeline':46s} {'kiln rows/s':>12s} {'DataLoader':>12s} {'ratio':>6s}")
    for name, dataset, loader in cases:
        kiln_rate, torch_rate = best_rows_per_second([dataset, loader], rows)
        print(f"{name:46s} {kiln_rate:12,.0f} {torch_rate:12,.0f} {kiln_rate / torch_rate:6.2f}")

    train = slice(0, min(rows, 20_000))
    arrays = seconds_per_step(X[train], y=y[train], batch_size=32)
    dataset = seconds_per_step(Dataset.from_tensor_slices((X[train], y[train]))
                               .shuffle(10_000).batch(32).prefetch(1))
    print(f"\nchapter-10 MLP, {train.stop} rows: fit from arrays {arrays * 1e6:.0f} us/step, "
          f"from the Dataset {dataset * 1e6:.0f} us/step, ratio {dataset / arrays:.2f}")


if __name__ == "__main__":
    main()
