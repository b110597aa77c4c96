"""The cost of ModelCheckpoint and TensorBoard: the chapter-10 regression MLP's fit with them.

Fits the book's regression MLP (Normalization + 3 x Dense(50, relu) + Dense(1), Adam 1e-3, MSE
and RMSE, batch 32, validation after every epoch) on California housing three ways in the same
process, alternating runs so that machine noise hits all alike:

- no callbacks (the reference);
- `TensorBoard(log_dir)`: epoch scalars (train and validation losses and metrics, the learning
  rate, the evaluation scalars), the issue's figure;
- `TensorBoard(log_dir, histogram_freq=1)`: plus a histogram of every weight each epoch;
- `ModelCheckpoint(path)` (the whole model saved every epoch) + `TensorBoard(log_dir)`: the
  issue's figure (at most 10% over a fit without callbacks).

Usage: python bench/bench_callbacks_overhead.py [--epochs 20] [--repeats 3]
Prints milliseconds per epoch for each (best of the repeats, and the median), the ratios to
the fit without callbacks (1.00 = free), and the time spent inside the callback's hooks, a
figure that machine noise does not blur (the event file itself is written by a background
thread, outside the hooks).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from demo import housing_splits, make_regression_mlp  # noqa: E402

from kiln.callbacks.checkpoint import ModelCheckpoint  # noqa: E402
from kiln.callbacks.tensorboard import TensorBoard  # noqa: E402
from kiln.summary._tensorboard import tensorboard_modules  # noqa: E402



class TimedTensorBoard(TensorBoard):
    """The TensorBoard callback, adding up the time spent in its hooks in `seconds`."""

    seconds = 0.0

    def on_train_begin(self, logs=None):
        self._timed(super().on_train_begin, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._timed(super().on_epoch_end, epoch, logs)

    def on_test_end(self, logs=None):
        self._timed(super().on_test_end, logs)

    def on_train_end(self, logs=None):
        self._timed(super().on_train_end, logs)

    def _timed(self, hook, *args):
        start = time.perf_counter()
        hook(*args)
        self.seconds += time.perf_counter() - start


class TimedModelCheckpoint(ModelCheckpoint):
    """ModelCheckpoint, adding up the time spent saving in `seconds`."""

    seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        super().on_epoch_end(epoch, logs)
        self.seconds += time.perf_counter() - start


CONFIGURATIONS = {
    "no callbacks": lambda log_dir: [],
    "TensorBoard (epoch scalars)": lambda log_dir: [TimedTensorBoard(log_dir)],
    "TensorBoard (+ histograms each epoch)": lambda log_dir: [
        TimedTensorBoard(log_dir, histogram_freq=1)],
    "ModelCheckpoint + TensorBoard": lambda log_dir: [
        TimedModelCheckpoint(str(log_dir.parent / f"{log_dir.name}.kiln")),
        TimedTensorBoard(log_dir)],
}


def time_fit(splits, epochs, callbacks):
    """Seconds per epoch of one fit, and of it the seconds per epoch spent in the callbacks.

    The model is built and seeded the same way each time.
    """
    X_train, X_valid, y_train, y_valid = splits
    model = make_regression_mlp(X_train)
    start = time.perf_counter()
    model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid), verbose=0,
              callbacks=callbacks)
    elapsed = time.perf_counter() - start
    return elapsed / epochs, sum(callback.seconds for callback in callbacks) / epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X_train, X_valid, _, y_train, y_valid, _ = housing_splits()
    splits = (X_train, X_valid, y_train, y_valid)
    tensorboard_modules()  # the one-off import of the tensorboard package is not timed
    times = {name: [] for name in CONFIGURATIONS}
    in_callbacks = {name: [] for name in CONFIGURATIONS}
    with tempfile.TemporaryDirectory() as root:
        for repeat in range(args.repeats):
            for index, (name, make_callbacks) in enumerate(CONFIGURATIONS.items()):
                log_dir = Path(root) / f"run_{repeat}_{index}"
                seconds, callback_seconds = time_fit(splits, args.epochs, make_callbacks(log_dir))
                times[name].append(seconds)
                in_callbacks[name].append(callback_seconds)
                print(f"{name}: {seconds * 1000:.1f} ms/epoch, of which "
                      f"{callback_seconds * 1000:.2f} in the callback")
    reference = min(times["no callbacks"])
    for name, values in times.items():
        best = min(values)
        hooks = statistics.median(in_callbacks[name])
        print(f"{name:>38}: {best * 1000:.1f} ms/epoch (best of {args.repeats}; median "
              f"{statistics.median(values) * 1000:.1f}), ratio {best / reference:.3f}; "
              f"{hooks * 1000:.2f} ms/epoch in the callback ({hooks / reference:.2%})")


if __name__ == "__main__":
    main()
