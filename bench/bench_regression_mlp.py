"""kiln's `fit` against a careful hand-written PyTorch loop: the book's chapter-10 regression MLP.

Both train Normalization + 3 x Dense(50, relu) + Dense(1) with Adam(1e-3) on California
housing (the book's splits), batch 32, with a validation pass (MSE and RMSE) after every epoch,
in the same process, alternating runs so that machine noise hits both alike. The reference is
what a careful PyTorch user writes: tensors converted once, a permutation per epoch, foreach
Adam, running loss summed in a tensor (no `.item()` per step), the normalization as one fused op.

Keras 3 (torch backend) is timed too when it is installed in the same environment.

Usage: python bench/bench_regression_mlp.py [--epochs 20] [--repeats 3] [--threads N]
Prints milliseconds per epoch for each, and the ratios kiln / reference (lower is better),
against the reference with foreach Adam and with fused Adam.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from demo import housing_splits, make_regression_mlp  # noqa: E402


def run_kiln(splits, epochs):
    X_train, y_train, X_valid, y_valid = splits
    model = make_regression_mlp(X_train)
    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid),
                        verbose=0)
    elapsed = time.perf_counter() - start
    return elapsed / epochs, history.history["val_root_mean_squared_error"][-1]


def run_keras(splits, epochs):
    """The same model in Keras 3 on its torch backend (when Keras is installed)."""
    import keras
    X_train, y_train, X_valid, y_valid = splits
    keras.utils.set_random_seed(42)
    norm_layer = keras.layers.Normalization()
    model = keras.Sequential([keras.Input(shape=X_train.shape[1:]), norm_layer,
                              keras.layers.Dense(50, activation="relu"),
                              keras.layers.Dense(50, activation="relu"),
                              keras.layers.Dense(50, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  metrics=["RootMeanSquaredError"])
    norm_layer.adapt(X_train)
    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid),
                        verbose=0)
    elapsed = time.perf_counter() - start
    val_rmse = next(v for k, v in history.history.items() if k.startswith("val_") and k != "val_loss")
    return elapsed / epochs, val_rmse[-1]


class _Standardize(torch.nn.Module):
    def __init__(self, data):
        super().__init__()
        mean, std = data.mean(0), data.std(0, unbiased=False).clamp_min(1e-7)
        self.register_buffer("scale", 1.0 / std)
        self.register_buffer("offset", -mean / std)

    def forward(self, x):
        return torch.addcmul(self.offset, x, self.scale)


def run_reference(splits, epochs, fused=False, batch_size=32):
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
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7,
                                 **({"fused": True} if fused else {"foreach": True}))
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
    X_train, X_valid, _, y_train, y_valid, _ = housing_splits()
    splits = (X_train, y_train, X_valid, y_valid)
    default_threads = torch.get_num_threads()
    times = {"kiln": [], "reference (foreach Adam)": [], "reference (fused Adam)": []}
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras  # noqa: F401
        times["keras"] = []
    except ImportError:
        print("Keras is not installed: no Keras figure.")
    for _ in range(args.repeats):
        torch.set_num_threads(args.threads or 1)
        for fused in (False, True):
            name = f"reference ({'fused' if fused else 'foreach'} Adam)"
            seconds, rmse = run_reference(splits, args.epochs, fused=fused)
            times[name].append(seconds)
            print(f"{name}: {seconds * 1000:.1f} ms/epoch (val RMSE {rmse:.4f})")
        torch.set_num_threads(args.threads or default_threads)
        seconds, rmse = run_kiln(splits, args.epochs)
        times["kiln"].append(seconds)
        print(f"kiln: {seconds * 1000:.1f} ms/epoch (val RMSE {rmse:.4f})")
        if "keras" in times:
            seconds, rmse = run_keras(splits, args.epochs)
            times["keras"].append(seconds)
            print(f"keras: {seconds * 1000:.1f} ms/epoch (val RMSE {rmse:.4f})")
    best = {name: min(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:>26}: {best[name] * 1000:.1f} ms/epoch (best of {args.repeats}; median "
              f"{statistics.median(values) * 1000:.1f})")
    for name in ("reference (foreach Adam)", "reference (fused Adam)"):
        print(f"ratio kiln / {name}: {best['kiln'] / best[name]:.3f}")
        if "keras" in times:
            print(f"ratio keras / {name}: {best['keras'] / best[name]:.3f}")


if __name__ == "__main__":
    main()
