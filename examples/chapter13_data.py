"""Chapter 13's listings on kiln: the data API, the CSV pipeline, TFRecords and preprocessing layers.

Each listing runs as the book writes it, with `kiln` for `tf.keras` and `kiln.data` for `tf.data`,
and prints what the book prints:

1. `Dataset.from_tensor_slices`, nested structures, `repeat(3).batch(7)`, `map`, `filter`, `take`
   and the `shuffle(buffer_size=4, seed=42)` example;
2. the California housing sets saved as CSV shards with a header (the book's
   `save_to_csv_files`), read back with the book's `csv_reader_dataset` (interleaved lines,
   `decode_csv`, standardization, shuffle, batch, prefetch), and a regression MLP trained with
   `fit(train_set, validation_data=valid_set)`, evaluated and used to predict from datasets;
3. a TFRecord file written and read back, plain and GZIP-compressed;
4. the `Normalization` layer adapted to the training set (the data scaled once, the final model
   with the layer inside), and applied in `dataset.map`;
5. the `Discretization` layer's age example, with bin boundaries and with `num_bins` + `adapt`.

The datasets come from `KILN_DATASETS` (see `kiln.datasets`). The CSV shards are written to a
temporary folder unless `--folder` is given.

Usage: python examples/chapter13_data.py [--epochs 5] [--folder datasets/housing]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import kiln

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo import housing_splits  # the book's train / validation / test splits

N_INPUTS = 8


def save_to_csv_files(data, name_prefix, folder, header, n_parts=20):
    """The book's `save_to_csv_files`: one CSV shard per part, each with the header line."""
    paths = []
    for index, part in enumerate(np.array_split(np.arange(len(data)), n_parts)):
        path = Path(folder) / f"my_{name_prefix}_{index:02d}.csv"
        with open(path, "w") as handle:
            handle.write(header + "\n")
            handle.writelines(",".join(repr(value) for value in data[row].tolist()) + "\n"
                              for row in part)
        paths.append(str(path))
    return paths


def data_api_listings():
    """Section "The tf.data API": returns what each listing prints, as lists of values."""
    results = {}
    X = torch.arange(10)
    dataset = kiln.data.Dataset.from_tensor_slices(X)
    results["items"] = [int(item) for item in dataset]
    X_nested = {"a": ([1, 2, 3], [4, 5, 6]), "b": [7, 8, 9]}
    results["nested"] = [{"a": tuple(int(v) for v in item["a"]), "b": int(item["b"])}
                         for item in kiln.data.Dataset.from_tensor_slices(X_nested)]
    dataset = kiln.data.Dataset.from_tensor_slices(torch.arange(10))
    dataset = dataset.repeat(3).batch(7)
    results["repeat_batch"] = [item.tolist() for item in dataset]
    dataset = dataset.map(lambda x: x * 2)  # x is a batch
    results["map"] = [item.tolist() for item in dataset]
    dataset = dataset.filter(lambda x: torch.sum(x) > 50)
    results["filter"] = [item.tolist() for item in dataset]
    results["take"] = [item.tolist() for item in dataset.take(2)]
    dataset = kiln.data.Dataset.range(10).repeat(2)
    dataset = dataset.shuffle(buffer_size=4, seed=42).batch(7)
    results["shuffle"] = [item.tolist() for item in dataset]
    for name, value in results.items():
        print(f"{name}: {value}")
    return results


def csv_pipeline(folder, epochs):
    """Sections "Interleaving Lines" to "Using the Dataset with Keras"."""
    X_train, X_valid, X_test, y_train, y_valid, y_test = housing_splits()
    header = ",".join(kiln.datasets.california_housing.FEATURE_NAMES + ["MedianHouseValue"])
    train_filepaths = save_to_csv_files(np.c_[X_train, y_train], "train", folder, header)
    valid_filepaths = save_to_csv_files(np.c_[X_valid, y_valid], "valid", folder, header)
    test_filepaths = save_to_csv_files(np.c_[X_test, y_test], "test", folder, header)
    X_mean, X_std = X_train.mean(axis=0), X_train.std(axis=0)

    def parse_csv_line(line):
        defs = [0.] * N_INPUTS + [torch.tensor([], dtype=torch.float32)]
        fields = kiln.io.decode_csv(line, record_defaults=defs)
        x = torch.stack(fields[:-1])
        y = torch.stack(fields[-1:])
        return x, y

    def preprocess(line):
        x, y = parse_csv_line(line)
        return (x - torch.as_tensor(X_mean, dtype=torch.float32)) / torch.as_tensor(
            X_std, dtype=torch.float32), y

    def csv_reader_dataset(filepaths, n_readers=5, n_read_threads=None, n_parse_threads=5,
                           shuffle_buffer_size=10_000, seed=42, batch_size=32):
        dataset = kiln.data.Dataset.list_files(filepaths, seed=seed)
        dataset = dataset.interleave(
            lambda filepath: kiln.data.TextLineDataset(filepath).skip(1),
            cycle_length=n_readers, num_parallel_calls=n_read_threads)
        dataset = dataset.map(preprocess, num_parallel_calls=n_parse_threads)
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
        return dataset.batch(batch_size).prefetch(1)

    first_lines = [line for line in kiln.data.Dataset.list_files(train_filepaths, seed=42)
                   .interleave(lambda filepath: kiln.data.TextLineDataset(filepath).skip(1),
                               cycle_length=5).take(5)]
    print("first interleaved lines:", *first_lines, sep="\n  ")

    train_set = csv_reader_dataset(train_filepaths)
    valid_set = csv_reader_dataset(valid_filepaths)
    test_set = csv_reader_dataset(test_filepaths)
    kiln.utils.set_random_seed(42)
    model = kiln.Sequential([kiln.layers.Dense(30, activation="relu", input_shape=[N_INPUTS]),
                             kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit(train_set, validation_data=valid_set, epochs=epochs)
    test_mse = model.evaluate(test_set)
    new_set = test_set.take(3)  # pretend we have 3 new samples
    y_pred = model.predict(new_set)
    print(f"test MSE {test_mse:.4f}, predictions for 3 batches: {y_pred.shape}")
    return {"first_lines": first_lines, "history": history.history, "test_mse": test_mse,
            "y_pred_shape": y_pred.shape, "train_lines": len(X_train)}


def tfrecord_listings(folder):
    """Section "The TFRecord Format"."""
    path = str(Path(folder) / "my_data.tfrecord")
    with kiln.io.TFRecordWriter(path) as f:
        f.write(b"This is the first record")
        f.write(b"And this is the second record")
    records = list(kiln.data.TFRecordDataset([path]))
    for item in records:
        print(item)
    compressed = str(Path(folder) / "my_compressed.tfrecord")
    options = kiln.io.TFRecordOptions(compression_type="GZIP")
    with kiln.io.TFRecordWriter(compressed, options) as f:
        f.write(b"Compress, compress, compress!")
    dataset = kiln.data.TFRecordDataset([compressed], compression_type="GZIP")
    return {"records": records, "compressed": list(dataset)}


def preprocessing_layers(epochs):
    """Sections "The Normalization Layer" and "The Discretization Layer"."""
    X_train, X_valid, X_test, y_train, y_valid, _ = housing_splits()
    norm_layer = kiln.layers.Normalization()
    norm_layer.adapt(X_train)
    X_train_scaled = norm_layer(X_train)
    X_valid_scaled = norm_layer(X_valid)
    kiln.utils.set_random_seed(42)
    model = kiln.models.Sequential([kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=2e-3))
    history = model.fit(X_train_scaled, y_train, epochs=epochs,
                        validation_data=(X_valid_scaled, y_valid))
    final_model = kiln.Sequential([norm_layer, model])
    X_new = X_test[:3]  # pretend we have a few new instances (unscaled)
    y_pred = final_model(X_new)  # preprocesses the data and makes predictions
    print("final model predictions:", y_pred.detach().numpy().ravel())

    dataset = kiln.data.Dataset.from_tensor_slices((X_train, y_train)).batch(32)
    dataset = dataset.map(lambda X, y: (norm_layer(X), y))
    first_x, _ = next(iter(dataset))

    age = torch.tensor([[10.], [93.], [57.], [18.], [37.], [5.]])
    discretize_layer = kiln.layers.Discretization(bin_boundaries=[18., 50.])
    age_categories = discretize_layer(age)
    print("age categories (boundaries 18, 50):", age_categories.tolist())
    discretize_layer = kiln.layers.Discretization(num_bins=3)
    discretize_layer.adapt(age)
    age_bins = discretize_layer(age)
    print("age categories (num_bins=3):", age_bins.tolist())
    return {"history": history.history, "y_pred": y_pred.detach(),
            "scaled_direct": X_train_scaled[:32], "scaled_in_map": first_x,
            "age_categories": age_categories.tolist(), "age_bins": age_bins.tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--folder", help="where to write the CSV shards and TFRecord files")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.folder or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        return {"data_api": data_api_listings(), "csv": csv_pipeline(folder, args.epochs),
                "tfrecord": tfrecord_listings(folder),
                "preprocessing": preprocessing_layers(args.epochs)}


if __name__ == "__main__":
    main()
