"""Behaviours fixed after the final review: interrupted fits release their resources, record
writers check their path, parsed sparse features travel through datasets, Softmax takes a mask."""

import threading

import numpy as np
import pytest
import torch

import kiln


def test_an_interrupted_fit_closes_files_and_writer_threads(tmp_path):
    class Interrupt(kiln.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    pytest.importorskip("tensorboard")
    model = kiln.Sequential([kiln.Input(shape=[2]), kiln.layers.Dropout(0.5),
                             kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    logger = kiln.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    board = kiln.callbacks.TensorBoard(str(tmp_path / "logs"))
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        model.fit(np.ones((8, 2)), np.ones(8), epochs=3, verbose=0,
                  callbacks=[logger, board, Interrupt()])
    assert logger._file is None
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not model.training  # back in inference mode: model(x) does not drop


def test_tfrecord_writer_checks_its_path_up_front(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        kiln.io.TFRecordWriter(str(tmp_path / "missing" / "x.tfrecord"))
    with pytest.raises(ValueError, match="is a folder"):
        kiln.io.TFRecordWriter(str(tmp_path))


def test_var_len_features_pass_through_dataset_map(tmp_path):
    pytest.importorskip("google.protobuf")
    from kiln.io import BytesList, Example, Feature, Features
    path = str(tmp_path / "contacts.tfrecord")
    with kiln.io.TFRecordWriter(path) as writer:
        for name in (b"Alice", b"Bob"):
            writer.write(Example(features=Features(feature={
                "name": Feature(bytes_list=BytesList(value=[name])),
                "emails": Feature(bytes_list=BytesList(value=[name + b"@a.com", b"x@b.com"])),
            })).SerializeToString())
    description = {"name": kiln.io.FixedLenFeature([], "string", default_value=""),
                   "emails": kiln.io.VarLenFeature("string")}
    dataset = kiln.data.TFRecordDataset([path]).map(
        lambda record: kiln.io.parse_single_example(record, description))
    names = [(e["name"], list(e["emails"].values)) for e in dataset]
    assert names == [(b"Alice", [b"Alice@a.com", b"x@b.com"]), (b"Bob", [b"Bob@a.com", b"x@b.com"])]


def test_softmax_layer_takes_a_mask():
    out = kiln.layers.Softmax()(torch.zeros(1, 4), mask=torch.tensor([[1, 1, 0, 1]]))
    np.testing.assert_allclose(out.numpy(), [[1 / 3, 1 / 3, 0.0, 1 / 3]], rtol=1e-6)
