"""The book's CSV input pipeline (chapter 13) on kiln.data, against a torch DataLoader, and
training the chapter-10 regression MLP from it against training from in-memory arrays.

The California housing training set (the 8-feature chapter-10 version, the book's splits) is
saved as 20 CSV shards with a header, as the book's `save_to_csv_files` does, in a temporary
folder. Then, in the same process, with interleaved rounds so machine noise hits all alike:

(a) rows per second delivered by
    - kiln, the book's `csv_reader_dataset`: list_files -> interleave(TextLineDataset.skip(1),
      cycle_length=5) -> map(preprocess, num_parallel_calls=5) with `decode_csv` per line ->
      shuffle(10_000) -> batch(32) -> prefetch(1) (kiln runs the map on chunks of 256 lines
      through torch.func.vmap, see kiln.data.vectorize);
    - the same with prefetch(1, worker="process"): the pipeline in a forked worker process;
    - kiln, a batched parse: the same, but the lines are shuffled and batched first and
      `decode_csv` parses 32 lines per call (map after batch);
    - a torch DataLoader over an IterableDataset reading the same shards (5 files round-robin,
      the same `preprocess` per line, a 10,000-line shuffle buffer), batch_size=32, with
      num_workers=0 and with 2 worker processes (the shards split between them);
    - tf.data running the book's code, if TensorFlow is installed.
(b) the book's `model.fit(train_set, validation_data=valid_set, epochs=5)` of the chapter-10 MLP
    (examples/demo.py `make_regression_mlp`), with both sets from `csv_reader_dataset` (the
    validation set saved as shards too): the book's pipeline, the same with
    prefetch(worker="process"), and with `cache()` after the parse (as the book advises for a
    dataset that fits in memory), against the same `fit` from the in-memory arrays (batch 32);
    the whole call is timed, after a warm-up fit, best of interleaved rounds.

Usage: python bench/bench_csv_pipeline.py [--rounds 3] [--epochs 5]
Prints the figures and the ratios kiln / DataLoader (rows/s, higher is better; issue target
>= 1.0) and pipeline / in-memory (time of the fit, lower is better; issue target <= 1.3).
"""

import argparse
import contextlib
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

import kiln
from kiln.data import Dataset, TextLineDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from chapter13_data import save_to_csv_files
from demo import housing_splits, make_regression_mlp

N_INPUTS = 8
TF_DATA = "tf.data (the book's code)"
IN_MEMORY = "in-memory arrays"
FIT_PIPELINES = {  # the pipelines part (b) trains from, with csv_reader_dataset's options
    "book pipeline": {},
    "book pipeline, prefetch worker process": {"worker": "process"},
    "book pipeline + cache() after parse": {"cache": True},
}


class BookParsing:
    """The book's `parse_csv_line` and `preprocess`, and a batched variant of them."""

    def __init__(self, X_mean, X_std):
        self.X_mean = torch.as_tensor(X_mean, dtype=torch.float32)
        self.X_std = torch.as_tensor(X_std, dtype=torch.float32)
        self.defs = [0.0] * N_INPUTS + [torch.tensor([])]

    def parse_csv_line(self, line):
        fields = kiln.io.decode_csv(line, record_defaults=self.defs)
        x = torch.stack(fields[:-1])
        y = torch.stack(fields[-1:])
        return x, y

    def preprocess(self, line):
        x, y = self.parse_csv_line(line)
        return (x - self.X_mean) / self.X_std, y

    def preprocess_batch(self, lines):
        fields = kiln.io.decode_csv(list(lines), record_defaults=self.defs)
        x = torch.stack(fields[:-1], dim=1)
        y = fields[-1].unsqueeze(1)
        return (x - self.X_mean) / self.X_std, y


def csv_reader_dataset(filepaths, parsing, n_readers=5, n_read_threads=None, n_parse_threads=5,
                       shuffle_buffer_size=10_000, seed=42, batch_size=32, cache=False,
                       worker="thread"):
    """The book's pipeline, with kiln for tf; `cache=True` adds the book's `cache()` after the
    parse (each line read and parsed once, in the first epoch); `worker="process"` prefetches
    from a worker process."""
    dataset = Dataset.list_files(filepaths, seed=seed)
    dataset = dataset.interleave(lambda filepath: TextLineDataset(filepath).skip(1),
                                 cycle_length=n_readers, num_parallel_calls=n_read_threads)
    dataset = dataset.map(parsing.preprocess, num_parallel_calls=n_parse_threads)
    if cache:
        dataset = dataset.cache()
    dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
    return dataset.batch(batch_size).prefetch(1, worker=worker)


def csv_reader_dataset_batched(filepaths, parsing, n_readers=5, shuffle_buffer_size=10_000,
                               seed=42, batch_size=32):
    """The same pipeline parsing a batch of lines per call: shuffle and batch the lines first."""
    dataset = Dataset.list_files(filepaths, seed=seed)
    dataset = dataset.interleave(lambda filepath: TextLineDataset(filepath).skip(1),
                                 cycle_length=n_readers)
    dataset = dataset.shuffle(shuffle_buffer_size, seed=seed).batch(batch_size)
    return dataset.map(parsing.preprocess_batch, num_parallel_calls=1).prefetch(1)


class CsvShards(IterableDataset):
    """The DataLoader way: read the shards 5 at a time round-robin, preprocess each line, and
    shuffle through a 10,000-line buffer; with workers, each takes its share of the shards."""

    def __init__(self, filepaths, preprocess, n_readers=5, shuffle_buffer_size=10_000, seed=42):
        self.filepaths, self.preprocess = list(filepaths), preprocess
        self.n_readers, self.buffer_size, self.seed = n_readers, shuffle_buffer_size, seed
        self.epoch = 0

    def __iter__(self):
        worker = get_worker_info()
        paths = self.filepaths if worker is None else self.filepaths[worker.id::worker.num_workers]
        rng = random.Random(self.seed + self.epoch + (0 if worker is None else 1000 * worker.id))
        self.epoch += 1
        paths = rng.sample(paths, len(paths))
        buffer = []
        for line in self._interleaved_lines(paths):
            buffer.append(self.preprocess(line))
            if len(buffer) >= self.buffer_size:
                index = rng.randrange(len(buffer))
                buffer[index], buffer[-1] = buffer[-1], buffer[index]
                yield buffer.pop()
        rng.shuffle(buffer)
        yield from buffer

    def _interleaved_lines(self, paths):
        pending, open_files = list(paths), []
        with contextlib.ExitStack() as stack:
            while pending or open_files:
                while pending and len(open_files) < self.n_readers:
                    handle = stack.enter_context(open(pending.pop(0), "rb"))
                    handle.readline()  # the header
                    open_files.append(handle)
                for handle in list(open_files):
                    line = handle.readline()
                    if line:
                        yield line.rstrip(b"\n")
                    else:
                        handle.close()
                        open_files.remove(handle)


def tf_data_pipeline(filepaths, X_mean, X_std):
    """The book's code verbatim on tf.data (only when TensorFlow is installed)."""
    import tensorflow as tf
    defs = [0.0] * N_INPUTS + [tf.constant([], dtype=tf.float32)]

    def preprocess(line):
        fields = tf.io.decode_csv(line, record_defaults=defs)
        return (tf.stack(fields[:-1]) - X_mean) / X_std, tf.stack(fields[-1:])

    dataset = tf.data.Dataset.list_files(filepaths, seed=42)
    dataset = dataset.interleave(lambda filepath: tf.data.TextLineDataset(filepath).skip(1),
                                 cycle_length=5)
    dataset = dataset.map(preprocess, num_parallel_calls=5).shuffle(10_000, seed=42)
    return dataset.batch(32).prefetch(1)


def best_rows_per_second(pipelines, rows, rounds):
    """Best rows/s of each pipeline over interleaved full passes, a new iterator each pass."""
    best = dict.fromkeys(pipelines, 0.0)
    for _ in range(rounds):
        for name, pipeline in pipelines.items():
            start = time.perf_counter()
            count = 0
            for x, _ in pipeline:
                count += len(x)
            elapsed = time.perf_counter() - start
            assert count == rows, f"{name} delivered {count} rows, expected {rows}"
            best[name] = max(best[name], rows / elapsed)
    return best


def fit_seconds(X_train, train_sources, valid_sources, epochs, rounds):
    """Best time of the book's `fit(train_set, validation_data=valid_set, epochs=epochs)` from
    each pair of sources (None: the arrays) over interleaved rounds, one model per source,
    after a warm-up fit of one epoch; returns (seconds, final validation loss) per source."""
    runs = {}
    for name, source in train_sources.items():
        model = make_regression_mlp(X_train)
        arguments = {**source, "validation_data": valid_sources[name]}
        model.fit(**arguments, epochs=1, verbose=0)  # warm-up: builds, first iterators
        runs[name] = (model, arguments)
    best = dict.fromkeys(train_sources, (float("inf"), None))
    for _ in range(rounds):
        for name, (model, arguments) in runs.items():
            start = time.perf_counter()
            history = model.fit(**arguments, epochs=epochs, verbose=0)
            seconds = time.perf_counter() - start
            best[name] = min(best[name][0], seconds), history.history["val_loss"][-1]
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    X_train, X_valid, _, y_train, y_valid, _ = housing_splits()
    X_mean, X_std = X_train.mean(axis=0), X_train.std(axis=0)
    parsing = BookParsing(X_mean, X_std)
    header = ",".join(kiln.datasets.california_housing.FEATURE_NAMES + ["MedianHouseValue"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
          f"{len(X_train)} training rows in 20 CSV shards")
    with tempfile.TemporaryDirectory() as folder:
        filepaths = save_to_csv_files(np.c_[X_train, y_train], "train", Path(folder), header)
        pipelines = {
            "kiln, book pipeline (decode_csv per line)": csv_reader_dataset(filepaths, parsing),
            "kiln, book pipeline, worker process": csv_reader_dataset(filepaths, parsing,
                                                                      worker="process"),
            "kiln, batched parse (map after batch)": csv_reader_dataset_batched(filepaths,
                                                                                parsing),
            "torch DataLoader, num_workers=0": DataLoader(CsvShards(filepaths, parsing.preprocess),
                                                          batch_size=32),
            "torch DataLoader, num_workers=2": DataLoader(CsvShards(filepaths, parsing.preprocess),
                                                          batch_size=32, num_workers=2,
                                                          persistent_workers=True),
        }
        try:
            pipelines[TF_DATA] = tf_data_pipeline(filepaths, X_mean, X_std)
        except ImportError:
            print("TensorFlow is not installed: no tf.data figure (the reference is the torch "
                  "DataLoader).")
        print("\n(a) rows per second, best of", args.rounds, "full passes")
        rates = best_rows_per_second(pipelines, len(X_train), args.rounds)
        for name, rate in rates.items():
            print(f"  {name:>45}: {rate:10,.0f} rows/s")
        reference = max(rate for name, rate in rates.items() if name.startswith("torch"))
        for name in [name for name in rates if name.startswith("kiln")]:
            print(f"  ratio {name} / best DataLoader: {rates[name] / reference:.2f}")
        if TF_DATA in rates:
            for name in [name for name in rates if name.startswith("kiln")]:
                print(f"  ratio {name} / tf.data: {rates[name] / rates[TF_DATA]:.2f}")

        # The MLP standardizes with its own Normalization layer (adapted to the training
        # arrays): the pipelines do the same arithmetic with mean 0 and std 1, so that the model
        # sees the same data either way.
        identity = BookParsing(np.zeros(N_INPUTS), np.ones(N_INPUTS))
        valid_paths = save_to_csv_files(np.c_[X_valid, y_valid], "valid", Path(folder), header)
        train_sources = {IN_MEMORY: {"x": X_train, "y": y_train}}
        valid_sources = {IN_MEMORY: (X_valid, y_valid)}
        for name, options in FIT_PIPELINES.items():
            train_sources[name] = {"x": csv_reader_dataset(filepaths, identity, **options)}
            valid_sources[name] = csv_reader_dataset(valid_paths, identity, **options)
        print(f"\n(b) the book's fit(train_set, validation_data=valid_set, epochs={args.epochs}) "
              f"of the chapter-10 MLP, seconds (best of {args.rounds} interleaved rounds)")
        timings = fit_seconds(X_train, train_sources, valid_sources, args.epochs, args.rounds)
        for name, (seconds, loss) in timings.items():
            print(f"  {name:>40}: {seconds:6.3f} s (final val_loss {loss:.4f})")
        in_memory = timings[IN_MEMORY][0]
        for name in FIT_PIPELINES:
            print(f"  ratio {name} / in-memory: {timings[name][0] / in_memory:.2f}")

if __name__ == "__main__":
    main()
