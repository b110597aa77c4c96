"""Tests for kiln.engine.progbar.Progbar and kiln.callbacks.ProgbarLogger."""

import io
import sys

import pytest

from kiln.callbacks import CallbackList, ProgbarLogger
from kiln.engine import progbar as progbar_module
from kiln.engine.progbar import Progbar


class FakeClock:
    """Replaces the `time` module seen by the progress bar with a clock moved by hand."""

    def __init__(self, now=100.0):
        self.now = now

    def monotonic(self):
        return self.now


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


class CountedValues:
    """A zero-argument values function that counts its calls."""

    def __init__(self, values):
        self.values = values
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.values


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progbar_module, "time", fake)
    return fake


def _use_terminal(monkeypatch):
    """Makes a fake terminal the standard output (from the test body: pytest's capture
    reinstalls its own `sys.stdout` after fixtures are set up)."""
    stream = Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    return stream


def _run_epoch(bar, clock, steps, values, first_step=0.5, step=0.002):
    """Updates `bar` for `steps` steps: the first takes `first_step` s, the others `step` s."""
    for current in range(1, steps + 1):
        clock.now += first_step if current == 1 else step
        bar.update(current, values)


def test_non_terminal_prints_only_the_final_line(capsys, clock):
    values = CountedValues([("loss", 0.41234), ("root_mean_squared_error", 0.64211)])
    bar = Progbar(363)
    _run_epoch(bar, clock, 363, values)
    assert capsys.readouterr().out == (
        "363/363 [==============================] - 1s 2ms/step"
        " - loss: 0.4123 - root_mean_squared_error: 0.6421\n"
    )
    assert values.calls == 1


def test_terminal_redraws_in_place_throttled_by_interval(monkeypatch, clock):
    terminal = _use_terminal(monkeypatch)
    values = CountedValues([("loss", 1.2345)])
    bar = Progbar(363, interval=1e9)
    _run_epoch(bar, clock, 56, values, first_step=0.5, step=0.1)
    clock.now += 0.1
    bar.update(57, [("loss", 1.2345), ("root_mean_squared_error", 1.1111)], finalize=True)
    draws = terminal.getvalue().split("\r")
    assert draws[0] == ""
    # One draw at the first step (later ones throttled), then the final one.
    assert len(draws) == 3
    assert draws[1].startswith("  1/363 [..............................] - ETA: ")
    assert draws[2] == (
        " 57/363 [===>..........................] - 6s 100ms/step"
        " - loss: 1.2345 - root_mean_squared_error: 1.1111\n"
    )
    assert values.calls == 1


def test_terminal_redraw_shows_eta_and_keeps_values_not_passed_again(monkeypatch, clock):
    terminal = _use_terminal(monkeypatch)
    bar = Progbar(363, interval=0)
    clock.now += 0.5
    bar.update(1, [("loss", 1.2345), ("root_mean_squared_error", 1.1111)])
    for current in range(2, 58):
        clock.now += 0.1
        bar.update(current, [("loss", 1.2345)])
    last = terminal.getvalue().split("\r")[-1]
    # (363 - 57) steps at 0.1 s per step after the first: 30.6 s.
    expected = (
        " 57/363 [===>..........................] - ETA: 30s"
        " - loss: 1.2345 - root_mean_squared_error: 1.1111"
    )
    assert last == expected
    assert terminal.getvalue().count("\r") == 57


@pytest.mark.parametrize(
    "seconds_per_step, eta",
    [(0.1, "30s"), (0.5, "2:33"), (20.0, "1:42:00")],
)
def test_eta_formats(monkeypatch, clock, seconds_per_step, eta):
    terminal = _use_terminal(monkeypatch)
    bar = Progbar(363, interval=0)
    clock.now += seconds_per_step
    bar.update(1)
    clock.now += seconds_per_step * 56
    bar.update(57)
    assert terminal.getvalue().split("\r")[-1] == (
        f" 57/363 [===>..........................] - ETA: {eta}"
    )


def test_values_function_is_not_called_between_draws(monkeypatch, clock):
    terminal = _use_terminal(monkeypatch)
    values = CountedValues([("loss", 0.5)])
    bar = Progbar(1000, interval=0.25)
    for current in range(1, 1000):
        clock.now += 1 / 64
        bar.update(current, values)
    # One draw every 16 steps (0.25 s), starting with the first: steps 1, 17, ..., 993.
    assert values.calls == 63
    assert terminal.getvalue().count("\r") == 63


def test_verbose_2_prints_one_summary_line(capsys, clock):
    values = CountedValues([("loss", 0.41234)])
    bar = Progbar(363, verbose=2)
    _run_epoch(bar, clock, 362, values, first_step=0.5, step=0.0025)
    assert capsys.readouterr().out == ""
    assert values.calls == 0
    clock.now += 0.0025
    bar.update(363, [("loss", 0.41234), ("val_loss", 0.398)])
    # 0.5 + 362 * 0.0025 = 1.405 s in all, 3.87 ms per step.
    assert capsys.readouterr().out == (
        "363/363 - 1s - loss: 0.4123 - val_loss: 0.3980 - 1s/epoch - 4ms/step\n"
    )


def test_verbose_0_prints_nothing(capsys, clock):
    values = CountedValues([("loss", 0.5)])
    bar = Progbar(10, verbose=0)
    _run_epoch(bar, clock, 10, values)
    assert capsys.readouterr().out == ""
    assert values.calls == 0


def test_unknown_target_shows_step_count(monkeypatch, clock):
    terminal = _use_terminal(monkeypatch)
    bar = Progbar(None, interval=0)
    clock.now += 0.1
    bar.update(1, [("loss", 2.0)])
    clock.now += 1.12
    bar.update(57, [("loss", 1.5)])
    bar.update(57, finalize=True)
    draws = terminal.getvalue().split("\r")
    assert draws[1] == "      1/Unknown - 0s 100ms/step - loss: 2.0000"
    # Padded with a space to cover the longer previous line.
    assert draws[2] == "     57/Unknown - 1s 20ms/step - loss: 1.5000 "
    assert draws[3] == "     57/Unknown - 1s 20ms/step - loss: 1.5000\n"


def test_tiny_and_special_values_are_formatted_like_keras(capsys, clock):
    bar = Progbar(1)
    clock.now += 0.004
    bar.update(1, [("lr", 1e-5), ("zero", 0.0), ("neg", -2e-4), ("big", 12.3456789),
                   ("name", "adam")])
    assert capsys.readouterr().out == (
        "1/1 [==============================] - 0s 4ms/step - lr: 1.0000e-05 - zero: 0.0000"
        " - neg: -2.0000e-04 - big: 12.3457 - name: adam\n"
    )


def test_bar_geometry_and_add(monkeypatch, clock):
    terminal = _use_terminal(monkeypatch)
    bar = Progbar(30, width=10, interval=0)
    bar.add(1)
    bar.add(14)
    assert terminal.getvalue().split("\r")[-1].startswith("15/30 [====>.....]")
    bar.add(15)
    assert terminal.getvalue().split("\r")[-1].startswith("30/30 [==========] - ")


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"target": -1}, "target"),
        ({"target": 3.5}, "target"),
        ({"target": 10, "width": 0}, "width"),
        ({"target": 10, "verbose": 3}, "verbose"),
        ({"target": 10, "interval": -1}, "interval"),
    ],
)
def test_invalid_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        Progbar(**kwargs)


def test_values_that_are_not_pairs_raise(capsys):
    with pytest.raises(ValueError, match="`values` must be a list of"):
        Progbar(1).update(1, [0.5])


def _fit(callbacks, epochs, steps, logs_function, val_steps=3):
    """Drives `callbacks` as `fit` does, with a validation run at the end of each epoch."""
    callbacks.on_train_begin()
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        for step in range(steps):
            callbacks.on_train_batch_begin(step)
            callbacks.on_train_batch_end(step, logs_function)
        callbacks.on_test_begin()
        for step in range(val_steps):
            callbacks.on_test_batch_end(step, logs_function)
        callbacks.on_test_end({"loss": 0.75})
        callbacks.on_epoch_end(epoch, {"loss": 0.5, "mae": 0.25, "val_loss": 0.75})
    callbacks.on_train_end()


def test_progbar_logger_in_fit_hides_validation_and_reads_no_batch_logs(capsys, clock):
    calls = []
    callbacks = CallbackList(add_history=True, add_progbar=True, verbose=1, epochs=2, steps=5)
    _fit(callbacks, 2, 5, lambda: calls.append(1) or {"loss": 9.0})
    line = "5/5 [==============================] - 0s 0s/step - loss: 0.5000 - mae: 0.2500" \
           " - val_loss: 0.7500\n"
    assert capsys.readouterr().out == f"Epoch 1/2\n{line}Epoch 2/2\n{line}"
    assert calls == []


def test_progbar_logger_verbose_2(capsys, clock):
    callbacks = CallbackList(add_progbar=True, verbose=2, epochs=2, steps=4)
    _fit(callbacks, 2, 4, lambda: {"loss": 9.0})
    line = "4/4 - 0s - loss: 0.5000 - mae: 0.2500 - val_loss: 0.7500 - 0s/epoch - 0s/step\n"
    assert capsys.readouterr().out == f"Epoch 1/2\n{line}Epoch 2/2\n{line}"


def test_progbar_logger_single_epoch_has_no_header(capsys, clock):
    callbacks = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=2)
    _fit(callbacks, 1, 2, lambda: {"loss": 9.0})
    assert capsys.readouterr().out.startswith("2/2 [===")


def test_progbar_logger_redraws_with_batch_logs_on_a_terminal(monkeypatch, clock):
    terminal = _use_terminal(monkeypatch)
    callbacks = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=3)
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    callbacks.on_train_batch_end(0, lambda: {"loss": 2.0})
    assert terminal.getvalue() == "\r1/3 [=========>....................] - ETA: 0s - loss: 2.0000"


def test_progbar_logger_learns_unknown_steps_after_first_epoch(capsys, clock):
    callbacks = CallbackList(add_progbar=True, verbose=1, epochs=2, steps=None)
    _fit(callbacks, 2, 6, lambda: {"loss": 9.0})
    lines = capsys.readouterr().out.splitlines()
    assert [line[:10] for line in lines] == ["Epoch 1/2", "6/6 [=====", "Epoch 2/2", "6/6 [====="]
    assert callbacks._progbar.target == 6


def test_progbar_logger_standalone_evaluate_and_predict(capsys, clock):
    evaluate = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=3)
    evaluate.on_test_begin()
    for step in range(3):
        evaluate.on_test_batch_end(step, lambda: {"loss": 1.0})
    evaluate.on_test_end({"loss": 0.3125, "accuracy": 0.875})
    predict = CallbackList(add_progbar=True, verbose=1, epochs=1, steps=2)
    predict.on_predict_begin()
    for step in range(2):
        predict.on_predict_batch_end(step, {"outputs": [1.0]})
    predict.on_predict_end()
    assert capsys.readouterr().out == (
        "3/3 [==============================] - 0s 0s/step - loss: 0.3125 - accuracy: 0.8750\n"
        "2/2 [==============================] - 0s 0s/step\n"
    )


def test_progbar_logger_rejects_samples_mode():
    with pytest.raises(ValueError, match="`count_mode` must be \"steps\""):
        ProgbarLogger(count_mode="samples")
