"""The book's chapter-15 ridership study (examples/ridership_forecasting.py), shortened.

The naive forecast and the daily-refitted SARIMA reproduce the book's figures exactly; the
neural models of the quick run (the SimpleRNN, the multivariate RNN and the seq2seq RNN, 20
epochs each) already beat the naive forecast. The full run (every model, 500 epochs at most)
is the example's own: ``python examples/ridership_forecasting.py``.
"""

import importlib.util
from pathlib import Path

import pytest

import kiln

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ridership_forecasting.py"
NEURAL_MODELS = ["SimpleRNN", "multivariate RNN", "seq2seq RNN (t+1)"]


@pytest.fixture(scope="module")
def results():
    pytest.importorskip("statsmodels")
    try:
        kiln.datasets.ridership.load_data()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    spec = importlib.util.spec_from_file_location("ridership_forecasting", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example.main(["--quick"])


def test_naive_and_sarima_reproduce_the_book(results):
    assert round(results["naive (rail)"]) == 42_143
    assert round(results["SARIMA"]) == 32_041


@pytest.mark.parametrize("name", NEURAL_MODELS)
def test_each_neural_model_beats_the_naive_forecast(results, name):
    assert results[name] < 42_143

