"""The TensorBoard callback: Keras' log layout, read back with TensorBoard's reader and server."""

import io
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

import kiln
from kiln.callbacks import CallbackList
from kiln.callbacks.tensorboard import TensorBoard

pytest.importorskip("tensorboard")

X = np.random.default_rng(0).normal(size=(80, 3)).astype(np.float32)
Y = X @ np.array([1.0, -2.0, 0.5], dtype=np.float32) + 0.3
STEPS = 10  # batches per epoch at batch_size=8


def make_model():
    model = kiln.Sequential([kiln.Input(shape=[3]), kiln.layers.Dense(4, activation="relu"),
                             kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.01),
                  metrics=["RootMeanSquaredError"])
    return model


def fit(callback, epochs=3, validation=True, model=None):
    model = model or make_model()
    history = model.fit(X, Y, batch_size=8, epochs=epochs, verbose=0, callbacks=[callback],
                        validation_data=(X[:40], Y[:40]) if validation else None)
    return model, history.history


def read_run(folder):
    """``{tag: (steps, values)}`` of a run folder, read with TensorBoard's EventAccumulator."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util
    accumulator = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {tag: ([e.step for e in accumulator.Tensors(tag)],
                  [tensor_util.make_ndarray(e.tensor_proto) for e in accumulator.Tensors(tag)])
            for tag in accumulator.Tags()["tensors"]}


def test_epoch_scalars_follow_keras_layout_and_match_the_history(tmp_path):
    model, history = fit(TensorBoard(tmp_path))
    train, validation = read_run(tmp_path / "train"), read_run(tmp_path / "validation")
    assert set(train) == {"epoch_loss", "epoch_root_mean_squared_error", "epoch_learning_rate"}
    assert set(validation) == {"epoch_loss", "epoch_root_mean_squared_error",
                               "evaluation_loss_vs_iterations",
                               "evaluation_root_mean_squared_error_vs_iterations"}
    for name in ("loss", "root_mean_squared_error"):
        steps, values = train[f"epoch_{name}"]
        assert steps == [0, 1, 2]
        np.testing.assert_allclose(values, history[name], rtol=1e-6)
        steps, values = validation[f"epoch_{name}"]
        assert steps == [0, 1, 2]
        np.testing.assert_allclose(values, history[f"val_{name}"], rtol=1e-6)
    np.testing.assert_allclose(train["epoch_learning_rate"][1], [0.01] * 3, rtol=1e-6)
    steps, values = validation["evaluation_loss_vs_iterations"]
    assert steps == [STEPS, 2 * STEPS, 3 * STEPS]  # the optimizer's iterations
    np.testing.assert_allclose(values, history["val_loss"], rtol=1e-6)


def test_without_validation_data_there_is_no_validation_run(tmp_path):
    fit(TensorBoard(tmp_path), epochs=1, validation=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]


def test_by_default_fit_never_calls_the_callback_per_batch():
    hooks = CallbackList([TensorBoard("unused")])._hooks
    assert hooks["on_train_batch_begin"] == [] and hooks["on_train_batch_end"] == []
    hooks = CallbackList([TensorBoard("unused", update_freq=5)])._hooks
    assert len(hooks["on_train_batch_end"]) == 1


def test_update_freq_writes_running_batch_means_every_n_batches(tmp_path):
    _, history = fit(TensorBoard(tmp_path, update_freq=4), epochs=2, validation=False)
    steps, values = read_run(tmp_path / "train")["batch_loss"]
    assert steps == [4, 8, 12, 16, 20]
    # The running mean after an epoch's last batch is the epoch's loss.
    np.testing.assert_allclose(values[-1], history["loss"][-1], rtol=1e-6)
    steps, _ = read_run(tmp_path / "train")["batch_root_mean_squared_error"]
    assert steps == [4, 8, 12, 16, 20]
    fit(TensorBoard(tmp_path / "every", update_freq="batch"), epochs=1, validation=False)
    assert read_run(tmp_path / "every" / "train")["batch_loss"][0] == list(range(1, STEPS + 1))


def test_histograms_and_images_of_the_weights_every_histogram_freq_epochs(tmp_path):
    from PIL import Image
    model, _ = fit(TensorBoard(tmp_path, histogram_freq=2, write_images=True), epochs=3)
    train = read_run(tmp_path / "train")
    assert {"dense/kernel/histogram", "dense/bias/histogram", "dense_1/kernel/histogram",
            "dense_1/bias/histogram"} <= set(train)
    steps, histograms = train["dense/kernel/histogram"]
    assert steps == [0, 2]
    kernel = model.layers[0].kernel.detach().numpy()  # the weights after the last epoch, 2
    counts, edges = np.histogram(kernel, bins=30)
    np.testing.assert_array_equal(histograms[-1][:, 2], counts)
    np.testing.assert_allclose(histograms[-1][:, 0], edges[:-1], atol=1e-6)
    steps, images = train["dense/kernel/image"]
    assert steps == [0, 2]
    picture = np.asarray(Image.open(io.BytesIO(images[-1][2])))
    assert picture.shape == (3, 4)  # the (3, 4) kernel, wider than tall
    assert picture.min() == 0 and picture.max() == 255  # rescaled to its own range
    np.testing.assert_array_equal(np.argsort(picture.ravel()), np.argsort(kernel.ravel()))
    assert "dense_1/bias/image" not in train  # a single value is not drawn


def test_profile_batch_writes_a_torch_profiler_trace(tmp_path):
    fit(TensorBoard(tmp_path, profile_batch=(2, 3)), epochs=1, validation=False)
    traces = list((tmp_path / "train" / "plugins" / "profile").glob("*/*.pt.trace.json"))
    assert len(traces) == 1
    events = json.loads(traces[0].read_text())["traceEvents"]
    assert any(event.get("name", "").startswith("aten::") for event in events)


def test_a_profile_range_past_the_end_of_training_is_closed_by_on_train_end(tmp_path):
    callback = TensorBoard(tmp_path, profile_batch="15, 1000")
    fit(callback, epochs=2, validation=False)
    assert callback._profiler is None
    assert len(list((tmp_path / "train").glob("plugins/profile/*/*.pt.trace.json"))) == 1


def test_files_are_closed_at_train_end_and_a_second_fit_adds_new_ones(tmp_path):
    callback = TensorBoard(tmp_path)
    model, _ = fit(callback, epochs=2)
    assert callback._writers == {}
    fit(callback, epochs=3, model=model)  # a second fit: epochs 0..2 again, in a new file
    from tensorboard.backend.event_processing import event_file_loader
    files = sorted((tmp_path / "train").glob("events.out.tfevents.*"))
    assert len(files) == 2
    steps = [[event.step for event in event_file_loader.EventFileLoader(str(path)).Load()
              if event.summary.value and event.summary.value[0].tag == "epoch_loss"]
             for path in files]
    assert sorted(steps) == [[0, 1], [0, 1, 2]]


def test_evaluate_alone_writes_the_evaluation_scalars_and_closes(tmp_path):
    model, _ = fit(TensorBoard(tmp_path / "fit"), epochs=1, validation=False)
    callback = TensorBoard(tmp_path / "eval")
    loss, _ = model.evaluate(X, Y, verbose=0, callbacks=[callback])
    steps, values = read_run(tmp_path / "eval" / "validation")["evaluation_loss_vs_iterations"]
    assert steps == [STEPS]
    np.testing.assert_allclose(values, [loss], rtol=1e-6)
    assert callback._writers == {}


@pytest.mark.parametrize("kwargs, message", [
    ({"update_freq": 0}, "`update_freq`"),
    ({"update_freq": "sometimes"}, "`update_freq`"),
    ({"histogram_freq": -1}, "`histogram_freq`"),
    ({"profile_batch": (5, 2)}, "`profile_batch`"),
    ({"profile_batch": -1}, "`profile_batch`"),
    ({"profile_batch": (0, 4)}, "`profile_batch`"),
    ({"profile_batch": "a,b"}, "`profile_batch`"),
    ({"profile_batch": 2.5}, "`profile_batch`"),
    ({"embeddings_freq": 1}, "embeddings"),
    ({"log_dir": None}, "`log_dir`"),
])
def test_bad_arguments_raise_value_errors_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TensorBoard(**{"log_dir": "logs", **kwargs})


def test_the_tensorboard_server_serves_the_logged_scalars(tmp_path):
    _, history = fit(TensorBoard(tmp_path), epochs=3)
    with socket.socket() as probe:  # a free port: bind to port 0, read it, release it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path),
         "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/data/plugin/scalars"
        tags = _poll_json(f"{base}/tags", lambda t: "epoch_loss" in t.get("validation", {}),
                          server)
        assert {"epoch_loss", "epoch_learning_rate"} <= set(tags["train"])
        points = _poll_json(f"{base}/scalars?run=train&tag=epoch_loss", lambda p: len(p) == 3,
                            server)
        assert [step for _, step, _ in points] == [0, 1, 2]
        np.testing.assert_allclose([value for _, _, value in points], history["loss"],
                                   rtol=1e-6)
        points = _poll_json(f"{base}/scalars?run=validation&tag=epoch_loss",
                            lambda p: len(p) == 3, server)
        np.testing.assert_allclose([value for _, _, value in points], history["val_loss"],
                                   rtol=1e-6)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _poll_json(url, ready, server, timeout=60):
    """GETs `url` until its JSON satisfies `ready` (the server loads logs in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, f"tensorboard exited with code {server.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                data = json.loads(response.read())
            if ready(data):
                return data
        except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
            pass
        assert time.monotonic() < deadline, f"no ready answer from {url} in {timeout} s"
        time.sleep(0.25)


def test_weight_tags_and_images_cover_torch_modules_and_any_rank():
    import torch
    from kiln.callbacks.tensorboard import _named_weights, _weight_images
    model = kiln.Sequential([kiln.Input(shape=[3]), torch.nn.Linear(3, 2), kiln.layers.Dense(1)])
    assert [tag for tag, _ in _named_weights(model)] == [
        "_layers/0/module/weight", "_layers/0/module/bias", "dense/kernel", "dense/bias"]
    bias = _weight_images(torch.tensor([1.0, 3.0, 2.0]))
    np.testing.assert_allclose(bias.numpy().ravel(), [0.0, 1.0, 0.5])
    assert bias.shape == (1, 1, 3, 1)
    conv = _weight_images(torch.arange(5 * 2 * 3 * 4.0).reshape(5, 2, 3, 4))
    assert conv.shape == (3, 3, 4, 1)  # the first 3 images of the last two axes
    assert float(conv.min()) == 0.0 and float(conv.max()) == 1.0
    assert _weight_images(torch.tensor(2.0)) is None
    assert _weight_images(torch.full((2, 2), 7.0)).eq(0).all()  # constant: no division by 0


def test_steps_per_second_and_a_single_profiled_batch(tmp_path):
    fit(TensorBoard(tmp_path, write_steps_per_second=True, profile_batch=2), epochs=2,
        validation=False)
    steps, values = read_run(tmp_path / "train")["epoch_steps_per_second"]
    assert steps == [0, 1] and all(value > 0 for value in values)
    assert len(list((tmp_path / "train").glob("plugins/profile/*/*.pt.trace.json"))) == 1
