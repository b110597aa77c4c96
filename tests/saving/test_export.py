"""Tests for kiln.saving.export: torch.export and ONNX programs that run without kiln."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

import kiln
from kiln.saving.export import export_model

X = np.random.default_rng(0).normal(size=(7, 8)).astype("float32")
ONNX_AVAILABLE = all(importlib.util.find_spec(name) is not None
                     for name in ("onnx", "onnxscript", "onnxruntime"))
# torch's ONNX exporter calls `tensor.numpy(force=True)` on the weights, which are kiln.Variables.


def _classifier():
    return kiln.Sequential([
        kiln.layers.Input(shape=[8]),
        kiln.layers.Dense(16, activation="relu"),
        kiln.layers.BatchNormalization(),
        kiln.layers.Dropout(0.5),
        kiln.layers.Dense(3, activation="softmax"),
    ])


def _two_inputs_two_outputs():
    input_wide = kiln.Input(shape=[5], name="wide")
    input_deep = kiln.Input(shape=[6], name="deep")
    hidden = kiln.layers.Dense(12, activation="relu")(input_deep)
    concat = kiln.layers.concatenate([input_wide, hidden])
    output = kiln.layers.Dense(1, name="main")(concat)
    aux_output = kiln.layers.Dense(1, name="aux")(hidden)
    return kiln.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])


def _with_trained_statistics(model):
    for layer in model.layers:
        if isinstance(layer, kiln.layers.BatchNormalization):
            layer.moving_mean.data.uniform_(-1, 1)
            layer.moving_variance.data.uniform_(0.5, 2)
    return model


def test_torch_export_round_trip_with_dynamic_batch(tmp_path):
    model = _with_trained_statistics(_classifier())
    model.train(True)
    export_model(model, tmp_path / "model.pt2", format="torch")
    assert model.training  # the training flag is restored after exporting in inference mode
    program = torch.export.load(str(tmp_path / "model.pt2"))
    for batch in (X[:5], X):
        np.testing.assert_allclose(program.module()(torch.from_numpy(batch)).detach().numpy(),
                                   model.predict(batch, verbose=0), rtol=1e-6, atol=1e-7)


def test_torch_export_of_a_multi_io_model(tmp_path):
    model = _two_inputs_two_outputs()
    export_model(model, tmp_path / "model.pt2", format="torch")
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    wide, deep = X[:, :5], X[:, 2:]
    outputs = program(torch.from_numpy(wide), torch.from_numpy(deep))
    for exported, expected in zip(outputs, model.predict((wide, deep), verbose=0)):
        np.testing.assert_allclose(exported.detach().numpy(), expected, rtol=1e-6, atol=1e-7)


class _Subclassed(kiln.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = kiln.layers.Dense(4, activation="tanh")
        self.out = kiln.layers.Dense(2)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_model_built_on_a_batch_exports_with_a_free_batch_axis(tmp_path):
    model = _Subclassed()
    model.predict(X, verbose=0)  # built on a batch of 7
    export_model(model, tmp_path / "model.pt2", format="torch")
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    for batch in (X[:3], X):
        np.testing.assert_allclose(program(torch.from_numpy(batch)).detach().numpy(),
                                   model.predict(batch, verbose=0), rtol=1e-6, atol=1e-7)


def test_exported_program_runs_without_kiln(tmp_path):
    model = _classifier()
    export_model(model, tmp_path / "model.pt2", format="torch")
    expected = model.predict(X, verbose=0)
    np.save(tmp_path / "x.npy", X)
    script = (
        "import sys, numpy, torch\n"
        f"program = torch.export.load({str(tmp_path / 'model.pt2')!r}).module()\n"
        f"x = torch.from_numpy(numpy.load({str(tmp_path / 'x.npy')!r}))\n"
        f"numpy.save({str(tmp_path / 'y.npy')!r}, program(x).detach().numpy())\n"
        "assert 'kiln' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.skipif(not ONNX_AVAILABLE, reason="needs onnx, onnxscript and onnxruntime")
def test_onnx_export_runs_in_onnxruntime(tmp_path):
    import onnxruntime

    model = _two_inputs_two_outputs()
    export_model(model, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    assert [item.name for item in session.get_inputs()] == ["wide", "deep"]
    assert [item.name for item in session.get_outputs()] == ["main", "aux"]
    wide, deep = X[:, :5], X[:, 2:]
    outputs = session.run(None, {"wide": wide, "deep": deep})
    for exported, expected in zip(outputs, model.predict((wide, deep), verbose=0)):
        np.testing.assert_allclose(exported, expected, rtol=1e-5, atol=1e-6)
    single = session.run(None, {"wide": wide[:1], "deep": deep[:1]})  # any batch size
    np.testing.assert_allclose(single[0], outputs[0][:1], rtol=1e-5, atol=1e-6)


def test_bad_arguments_fail_before_exporting(tmp_path):
    model = _classifier()
    with pytest.raises(ValueError, match=r"`format` must be one of \['onnx', 'torch'\], but "
                                         r"received: format='savedmodel'"):
        export_model(model, tmp_path / "model", format="savedmodel")
    with pytest.raises(ValueError, match="does not exist"):
        export_model(model, tmp_path / "missing" / "model.pt2", format="torch")
    unbuilt = kiln.Sequential([kiln.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"is not built, so its input shape is unknown"):
        export_model(unbuilt, tmp_path / "model.pt2", format="torch")
    assert list(tmp_path.iterdir()) == []
