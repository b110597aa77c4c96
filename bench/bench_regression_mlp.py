"""kiln's `fit` against a careful hand-written PyTorch loop: the book's chapter-10 regression MLP.

Both train Normalization + 3 x Dense(50, relu) + Dense(1) with Adam(1e-3) on California
housing (the book's splits), batch 32, with a validation pass (MSE and RMSE) after every epoch,
in the same process, alternating runs so that machine noise hits both alike. The reference is
what a careful PyTorch user writes: tensors converted once, a permutation per epoch, foreach
Adam, running loss summed in a tensor (no `.item()` per step), the normalization as one fused op.

Usage: python bench/bench_regression_mlp.py [--epochs 20] [--repeats 3] [--threads N]
Prints seconds per epoch for each, and the ratio kiln / reference (lower is better).
"""

import argparse
import statistics
import time

import torch
from sklearn.model_selection import train_test_split

import kiln


def load_splits():
    housing = kiln.datasets.fetch_california_housing()
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        housing.data, housing.target, random_state=42)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_train_full, y_train_full, random_state=42)
    return X_train, y_train, X_valid, y_valid


def run_kiln(splits, epochs):
    X_train, y_train, X_valid, y_valid = splits
    kiln.utils.set_random_seed(42)
    norm_layer = kiln.layers.Normalization(input_shape=X_train.shape[1:])
    model = kiln.Sequential([
        norm_layer,
        kiln.layers.Dense(50, activation="relu"),
        kiln.layers.Dense(50, activation="relu"),
        kiln.layers.Dense(50, activation="relu"),
        kiln.layers.Dense(1),
    ])
    model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=1e-3),
                  metrics=["RootMeanSquaredError"])
    norm_layer.adapt(X_train)
    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid),
                        verbose=0)
    elapsed = time.perf_counter() - start
    return elapsed / epochs, history.history["val_root_mean_squared_error"][-1]


class _Standardize(torch.nn.Module):
    def __init__(self, data):
        super().__init__()
        mean, std = data.mean(0), data.std(0, unbiased=False).clamp_min(1e-7)
        self.register_buffer("scale", 1.0 / std)
        self.register_buffer("offset", -mean / std)

    def forward(self, x):
        return torch.addcmul(self.offset, x, self.scale)


def run_reference(splits, epochs, batch_size=32):
    X_train, y_train, X_valid, y_valid = (torch.as_tensor(a, dtype=torch.float32)
                                          for a in splits)
    y_train, y_valid = y_train.reshape(-1, 1), y_valid.reshape(-1, 1)
    torch.manual_seed(42)
    model = torch.nn.Sequential(
        _Standardize(X_train),
        torch.nn.Linear(8, 50), torch.nn.ReLU(),
        torch.nn.Linear(50, 50), torch.nn.ReLU(),
        torch.nn.Linear(50, 50), torch.nn.ReLU(),
        torch.nn.Linear(50, 1),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    mse = torch.nn.functional.mse_loss
    n = len(X_train)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n)
        X_epoch, y_epoch = X_train[order], y_train[order]
        running = torch.zeros(())
        for i in range(0, n, batch_size):
            xb, yb = X_epoch[i:i + batch_size], y_epoch[i:i + batch_size]
            loss = mse(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.detach() * len(xb)
        model.eval()
        with torch.inference_mode():
            val_sq = torch.zeros(())
            for i in range(0, len(X_valid), batch_size):
                val_sq += ((model(X_valid[i:i + batch_size]) - y_valid[i:i + batch_size]) ** 2).sum()
            val_rmse = float(torch.sqrt(val_sq / len(X_valid)))
        float(running / n)  # the epoch's training loss, read once per epoch
    elapsed = time.perf_counter() - start
    return elapsed / epochs, val_rmse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads for the reference (default: 1, kiln's choice "
                             "for this model; kiln picks its own)")
    args = parser.parse_args()
    splits = load_splits()
    default_threads = torch.get_num_threads()
    kiln_times, reference_times = [], []
    for _ in range(args.repeats):
        torch.set_num_threads(args.threads or 1)
        reference_time, reference_rmse = run_reference(splits, args.epochs)
        reference_times.append(reference_time)
        torch.set_num_threads(args.threads or default_threads)
        kiln_time, kiln_rmse = run_kiln(splits, args.epochs)
        kiln_times.append(kiln_time)
        print(f"run: kiln {kiln_time * 1000:.1f} ms/epoch (val RMSE {kiln_rmse:.4f}), "
              f"reference {reference_time * 1000:.1f} ms/epoch (val RMSE {reference_rmse:.4f})")
    kiln_best, reference_best = min(kiln_times), min(reference_times)
    print(f"kiln      : {kiln_best * 1000:.1f} ms/epoch (best of {args.repeats}; median "
          f"{statistics.median(kiln_times) * 1000:.1f})")
    print(f"reference : {reference_best * 1000:.1f} ms/epoch (best of {args.repeats}; median "
          f"{statistics.median(reference_times) * 1000:.1f})")
    print(f"ratio kiln / reference: {kiln_best / reference_best:.3f}")


if __name__ == "__main__":
    main()
