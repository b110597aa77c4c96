"""kiln.utils.plot_history: the book's learning-curves figure, drawn with matplotlib's Agg."""

import sys

import numpy as np
import pytest

from kiln.utils.plotting import plot_history

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HISTORY = {"loss": [0.9, 0.6, 0.5], "accuracy": [0.6, 0.75, 0.8],
           "val_loss": [0.7, 0.55, 0.52], "val_accuracy": [0.7, 0.78, 0.79]}


class FakeHistory:
    history = HISTORY


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_one_line_per_metric_training_dashed_validation_solid_paired_colors():
    ax = plot_history(FakeHistory(), figsize=(8, 5), xlim=[0, 2], ylim=[0, 1])
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == list(HISTORY)
    for name, values in HISTORY.items():
        np.testing.assert_array_equal(lines[name].get_xdata(), [0, 1, 2])
        np.testing.assert_array_equal(lines[name].get_ydata(), values)
    assert lines["loss"].get_linestyle() == "--" and lines["val_loss"].get_linestyle() == "-"
    assert lines["loss"].get_color() == lines["val_loss"].get_color()
    assert lines["loss"].get_color() != lines["accuracy"].get_color()
    assert ax.get_xlabel() == "Epoch"
    assert ax.get_xlim() == (0, 2) and ax.get_ylim() == (0, 1)
    assert all(gridline.get_visible() for gridline in ax.xaxis.get_gridlines())
    assert tuple(ax.figure.get_size_inches()) == (8, 5)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == list(HISTORY)


def test_selected_metrics_on_a_given_axes():
    _, ax = plt.subplots()
    assert plot_history(HISTORY, metrics=["val_loss", "loss"], ax=ax, grid=False) is ax
    assert [line.get_label() for line in ax.get_lines()] == ["val_loss", "loss"]
    assert not any(gridline.get_visible() for gridline in ax.xaxis.get_gridlines())


def test_a_real_fit_history_plots():
    import kiln
    model = kiln.Sequential([kiln.Input(shape=[2]), kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0)
    ax = plot_history(history)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), history.history["loss"])


def test_bad_input_raises_value_errors():
    with pytest.raises(ValueError, match="`history`"):
        plot_history({})
    with pytest.raises(ValueError, match=r"`metrics` names \['val_mae'\]"):
        plot_history(HISTORY, metrics=["val_mae"])


def test_a_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"kiln\[plot\]"):
        plot_history(HISTORY)
