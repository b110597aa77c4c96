"""Tests for kiln.callbacks.base (Callback, CallbackList, LazyLogs) and kiln.callbacks.history."""

import pytest

from kiln.callbacks import Callback, CallbackList, History, LazyLogs, ProgbarLogger


class Model:
    """Stands in for a kiln model: callbacks only set attributes on it."""


class Recorder(Callback):
    """Records every hook call with its arguments and a copy of the logs it received."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _record(self, hook, *args, logs):
        self.calls.append((hook, *args, dict(logs)))

    def on_train_begin(self, logs=None):
        self._record("train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._record("train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._record("epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._record("train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._record("train_batch_end", batch, logs=logs)

    def on_test_begin(self, logs=None):
        self._record("test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._record("test_end", logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._record("test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._record("test_batch_end", batch, logs=logs)

    def on_predict_begin(self, logs=None):
        self._record("predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._record("predict_end", logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._record("predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._record("predict_batch_end", batch, logs=logs)


class EpochEndOnly(Callback):
    def __init__(self):
        super().__init__()
        self.epochs_seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen.append(epoch)


class LossReader(Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def _counted(logs):
    """Returns a zero-argument logs function and the list whose length counts its calls."""
    calls = []

    def compute():
        calls.append(1)
        return dict(logs)

    return compute, calls


def test_dispatch_reaches_every_hook_in_order_with_arguments():
    recorder = Recorder()
    model = Model()
    callbacks = CallbackList([recorder], model=model, verbose=0, epochs=1, steps=2)
    assert recorder.model is model
    assert recorder.params == {"verbose": 0, "epochs": 1, "steps": 2}

    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    for step in range(2):
        callbacks.on_train_batch_begin(step)
        callbacks.on_train_batch_end(step, lambda: {"loss": 0.5})
    callbacks.on_test_begin()
    callbacks.on_test_batch_begin(0)
    callbacks.on_test_batch_end(0, {"loss": 0.25})
    callbacks.on_test_end({"loss": 0.25})
    callbacks.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.25})
    callbacks.on_train_end({"loss": 0.5})
    callbacks.on_predict_begin()
    callbacks.on_predict_batch_begin(0)
    callbacks.on_predict_batch_end(0)
    callbacks.on_predict_end()

    assert recorder.calls == [
        ("train_begin", {}),
        ("epoch_begin", 0, {}),
        ("train_batch_begin", 0, {}),
        ("train_batch_end", 0, {"loss": 0.5}),
        ("train_batch_begin", 1, {}),
        ("train_batch_end", 1, {"loss": 0.5}),
        ("test_begin", {}),
        ("test_batch_begin", 0, {}),
        ("test_batch_end", 0, {"loss": 0.25}),
        ("test_end", {"loss": 0.25}),
        ("epoch_end", 0, {"loss": 0.5, "val_loss": 0.25}),
        ("train_end", {"loss": 0.5}),
        ("predict_begin", {}),
        ("predict_batch_begin", 0, {}),
        ("predict_batch_end", 0, {}),
        ("predict_end", {}),
    ]


def test_callbacks_are_called_in_list_order_and_share_the_logs():
    order = []

    class AddsLearningRate(Callback):
        def on_epoch_end(self, epoch, logs=None):
            order.append("first")
            logs["lr"] = 0.01

    class ReadsLearningRate(Callback):
        def on_epoch_end(self, epoch, logs=None):
            order.append(("second", logs["lr"]))

    callbacks = CallbackList([AddsLearningRate(), ReadsLearningRate()])
    callbacks.on_epoch_end(0, {"loss": 1.0})
    assert order == ["first", ("second", 0.01)]


def test_legacy_batch_hooks_are_called_through_train_batch_hooks():
    class Legacy(Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_batch_begin(self, batch, logs=None):
            self.batches.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            self.batches.append(("end", batch, logs["loss"]))

    legacy = Legacy()
    callbacks = CallbackList([legacy])
    callbacks.on_train_batch_begin(0)
    callbacks.on_train_batch_end(0, {"loss": 2.0})
    callbacks.on_batch_begin(1)
    callbacks.on_batch_end(1, {"loss": 1.0})
    assert legacy.batches == [("begin", 0), ("end", 0, 2.0), ("begin", 1), ("end", 1, 1.0)]


def test_batch_hooks_skip_callbacks_that_do_not_override_them(monkeypatch):
    base_calls = []
    monkeypatch.setattr(
        Callback, "on_train_batch_end", lambda self, batch, logs=None: base_calls.append(batch)
    )
    epoch_only = EpochEndOnly()
    reader = LossReader()
    callbacks = CallbackList([epoch_only, reader], add_history=True)
    for epoch in range(2):
        for step in range(50):
            callbacks.on_train_batch_end(step, {"loss": float(step)})
        callbacks.on_epoch_end(epoch, {"loss": 1.0})
    assert base_calls == []
    assert reader.losses == [float(step) for step in range(50)] * 2
    assert epoch_only.epochs_seen == [0, 1]


def test_hooks_set_on_an_instance_are_detected():
    seen = []
    callback = Callback()
    callback.on_epoch_end = lambda epoch, logs: seen.append((epoch, logs["loss"]))
    callbacks = CallbackList([callback])
    callbacks.on_epoch_end(3, {"loss": 0.75})
    assert seen == [(3, 0.75)]


def test_append_attaches_model_and_params_and_updates_dispatch():
    model = Model()
    callbacks = CallbackList(model=model, verbose=2, epochs=3, steps=None)
    reader = LossReader()
    callbacks.on_train_batch_end(0, {"loss": 9.0})
    callbacks.append(reader)
    callbacks.on_train_batch_end(1, {"loss": 4.0})
    assert reader.model is model
    assert reader.params == {"verbose": 2, "epochs": 3, "steps": None}
    assert reader.losses == [4.0]
    assert list(callbacks) == [reader]
    assert len(callbacks) == 1


def test_set_model_and_set_params_reach_every_callback():
    recorder, history = Recorder(), History()
    callbacks = CallbackList([recorder, history])
    model = Model()
    callbacks.set_model(model)
    callbacks.set_params({"verbose": 1, "epochs": 5, "steps": 10})
    assert recorder.model is model and history.model is model
    assert history.params == {"verbose": 1, "epochs": 5, "steps": 10}
    assert callbacks.model is model


def test_default_callbacks_put_progbar_first_and_history_last():
    recorder = Recorder()
    callbacks = CallbackList([recorder], add_history=True, add_progbar=True)
    kinds = [type(callback) for callback in callbacks]
    assert kinds == [ProgbarLogger, Recorder, History]


def test_default_callbacks_are_not_duplicated():
    history, progbar = History(), ProgbarLogger()
    callbacks = CallbackList([history, progbar], add_history=True, add_progbar=True)
    assert list(callbacks) == [history, progbar]


def test_a_non_iterable_is_rejected():
    with pytest.raises(ValueError, match="`callbacks` must be a Callback or a list of them"):
        CallbackList(5)


def test_a_single_callback_is_accepted():
    recorder = Recorder()
    assert list(CallbackList(recorder)) == [recorder]


@pytest.mark.parametrize("bad", [print, "history", None])
def test_non_callbacks_are_rejected(bad):
    with pytest.raises(ValueError, match=r"callbacks\[1\]` must be a kiln.callbacks.Callback"):
        CallbackList([Recorder(), bad])
    with pytest.raises(ValueError, match="`callback` must be"):
        CallbackList().append(bad)


def test_lazy_logs_are_not_computed_when_no_callback_reads_them():
    compute, calls = _counted({"loss": 1.0})

    class IgnoresLogs(Callback):
        def __init__(self):
            super().__init__()
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

    ignores = IgnoresLogs()
    callbacks = CallbackList([EpochEndOnly(), ignores], add_history=True)
    for step in range(20):
        callbacks.on_train_batch_end(step, compute)
        callbacks.on_test_batch_end(step, compute)
        callbacks.on_predict_batch_end(step, compute)
    assert ignores.steps == 20
    assert calls == []


def test_lazy_logs_are_computed_once_for_two_readers():
    compute, calls = _counted({"loss": 0.5, "mae": 0.25})
    first, second = LossReader(), LossReader()
    callbacks = CallbackList([first, second])
    callbacks.on_train_batch_end(0, compute)
    assert len(calls) == 1
    assert first.losses == second.losses == [0.5]
    callbacks.on_train_batch_end(1, compute)
    assert len(calls) == 2


def test_lazy_logs_behave_like_a_dict():
    compute, calls = _counted({"loss": 0.5, "mae": 0.25})
    logs = LazyLogs(compute)
    assert calls == []
    assert logs["loss"] == 0.5
    assert logs.get("missing", 7) == 7
    assert "mae" in logs and "acc" not in logs
    logs["lr"] = 0.1
    assert list(logs) == ["loss", "mae", "lr"]
    assert len(logs) == 3
    assert dict(logs) == {"loss": 0.5, "mae": 0.25, "lr": 0.1}
    copy = logs.copy()
    del logs["mae"]
    assert copy == {"loss": 0.5, "mae": 0.25, "lr": 0.1}
    assert dict(logs.items()) == {"loss": 0.5, "lr": 0.1}
    with pytest.raises(KeyError):
        logs["mae"]
    assert len(calls) == 1


def test_lazy_logs_do_not_share_the_computed_dict():
    source = {"loss": 0.5}
    logs = LazyLogs(lambda: source)
    logs["loss"] = 9.0
    assert source == {"loss": 0.5}


def test_history_records_epoch_logs_and_attaches_to_model():
    model = Model()
    callbacks = CallbackList(add_history=True, model=model, verbose=0, epochs=3, steps=4)
    epoch_logs = [
        {"loss": 1.0, "mae": 0.9, "val_loss": 1.1, "val_mae": 1.0},
        {"loss": 0.5, "mae": 0.6, "val_loss": 0.7, "val_mae": 0.8},
        {"loss": 0.25, "mae": 0.4, "val_loss": 0.5, "val_mae": 0.6, "lr": 0.01},
    ]
    callbacks.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        callbacks.on_epoch_begin(epoch)
        callbacks.on_train_batch_end(0, lambda: {"loss": 123.0})
        callbacks.on_epoch_end(epoch, logs)
    callbacks.on_train_end()

    history = model.history
    assert isinstance(history, History)
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae", "lr"]
    assert history.history["loss"] == [1.0, 0.5, 0.25]
    assert history.history["val_mae"] == [1.0, 0.8, 0.6]
    assert history.history["lr"] == [0.01]


def test_history_resets_at_train_begin():
    history = History()
    callbacks = CallbackList([history], model=Model())
    callbacks.on_train_begin()
    callbacks.on_epoch_end(0, {"loss": 3.0})
    callbacks.on_train_begin()
    callbacks.on_epoch_end(0, {"loss": 2.0})
    assert history.history == {"loss": [2.0]}
    assert history.epoch == [0]
