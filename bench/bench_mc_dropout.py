"""Monte Carlo dropout: `kiln.utils.mc_predict` against the book's loop of 100 calls.

The book computes `np.stack([model(X_test, training=True) for sample in range(100)])`; this
times that loop and `mc_predict(model, X_test, n_samples=100)` side by side on the book's
dropout MLP (Flatten, 3 x Dropout(0.2) + Dense(100), Dense(10)) for 28x28 images, from one
image (the book's `X_test[:1]`) to a test set.

Usage: python bench/bench_mc_dropout.py [--rows 1 10 100 1000] [--repeats 3]
"""

import argparse
import time

import numpy as np
import torch

import kiln


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    kiln.utils.set_random_seed(42)
    model = kiln.Sequential([
        kiln.layers.Flatten(input_shape=[28, 28]),
        kiln.layers.Dropout(rate=0.2),
        kiln.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        kiln.layers.Dropout(rate=0.2),
        kiln.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        kiln.layers.Dropout(rate=0.2),
        kiln.layers.Dense(10, activation="softmax"),
    ])
    for rows in args.rows:
        X_test = np.random.default_rng(0).random((rows, 28, 28), dtype=np.float32)
        loop_times, batched_times = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            with torch.no_grad():
                y_probas = np.stack([model(X_test, training=True).numpy() for _ in range(100)])
            loop_proba = y_probas.mean(axis=0)
            loop_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            batched_proba, _ = kiln.utils.mc_predict(model, X_test, n_samples=100)
            batched_times.append(time.perf_counter() - start)
        gap = np.abs(loop_proba - batched_proba).mean()
        print(f"{rows:>5} rows: book's loop {min(loop_times) * 1000:8.1f} ms, mc_predict "
              f"{min(batched_times) * 1000:8.1f} ms, speed-up {min(loop_times) / min(batched_times):.2f}x"
              f" (mean gap between the two estimates {gap:.3f})")


if __name__ == "__main__":
    main()
