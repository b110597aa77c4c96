"""The book's chapter 15 end to end: forecasting Chicago's daily rail ridership with kiln.

Every model forecasts the CTA rail ridership of March to May 2019 (the baselines) or of the
validation period January to May 2019 (the neural models, trained on 2016 to 2018), as in
"Hands-On Machine Learning" (3rd edition), chapter 15:

1. the naive forecast (last week's value): MAE and MAPE for bus and rail;
2. SARIMA(1,0,0)x(0,1,1,7) refitted every day on the data since January 2019, through
   `kiln.forecasting.backtest`, and (full mode) a small grid search over its orders;
3. the neural models of the book's listings, each trained by the book's ``fit_and_evaluate``
   (SGD with momentum 0.9, Huber loss, early stopping on the validation MAE with patience 50,
   at most 500 epochs), on 56-day windows of the ridership scaled by 1e-6: a linear model, a
   SimpleRNN, a deep RNN, a multivariate RNN (bus, rail and tomorrow's day type), an RNN
   forecasting 14 days at once, a sequence-to-sequence RNN, and its LSTM and GRU versions;
   plus the autoregressive 14-day rollout of the SimpleRNN.

It ends with one table of validation MAEs beside the book's figures. The 14-step-ahead model's
MAE is the mean over its 14 forecasts; a sequence-to-sequence model is scored, as in the book,
on its t+1 forecasts at the last time step of each window ("all steps" averages every time step
and every step ahead, early time steps included, where it has seen few inputs). The ridership
file comes from the dataset cache (`KILN_DATASETS`, or downloaded once).

Run: ``python examples/ridership_forecasting.py`` (all models, 500 epochs at most: about 15
minutes on 2 cores), or ``--quick`` (20 epochs for the SimpleRNN, the multivariate RNN and the
seq2seq RNN, no grid search: under a minute), or ``--epochs N``.
"""

import argparse
import time

import numpy as np
import pandas as pd

import kiln
import kiln.forecasting as kf

BOOK_MAE = {"naive (rail)": 42_143, "SARIMA": 32_041, "linear": 37_866, "SimpleRNN": 27_703,
            "deep RNN": 31_211, "multivariate RNN": 22_062, "seq2seq RNN (t+1)": 25_519}
MODELS = ("linear", "SimpleRNN", "deep RNN", "multivariate RNN", "14-step-ahead RNN",
          "seq2seq RNN", "LSTM", "GRU")
SEQ2SEQ_MODELS = ("seq2seq RNN", "LSTM", "GRU")
# --quick: the models that beat the naive forecast within a few epochs of the book's recipe (the
# others need more: the linear model ~100, LSTM and GRU some hundreds).
QUICK_MODELS = ("SimpleRNN", "multivariate RNN", "seq2seq RNN")
QUICK_EPOCHS = 20
SEQ_LENGTH = 56
AHEAD = 14


def main(argv=None):
    """Runs the study; returns the validation MAEs by model name (in riders)."""
    parser = argparse.ArgumentParser(description="The book's chapter-15 ridership study")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_EPOCHS} epochs for {len(QUICK_MODELS)} neural models, no "
                             "grid search")
    parser.add_argument("--epochs", type=int, default=None,
                        help="the most epochs per neural model (default 500, --quick "
                             f"{QUICK_EPOCHS})")
    args = parser.parse_args(argv)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else 500)

    df = kiln.datasets.ridership.load_data()
    results = baselines(df, grid_search=not args.quick)
    results.update(neural_models(df, epochs, QUICK_MODELS if args.quick else MODELS))
    print_table(results)
    return results


def baselines(df, grid_search):
    """The naive forecast and SARIMA over March to May 2019, as the book computes them."""
    print("== Naive forecast: the value a week earlier, March to May 2019 ==")
    series = df[["bus", "rail"]]
    naive = kf.naive_forecast(series, lag=7)
    naive_mae = kf.mae(series, naive, "2019-03", "2019-05")
    naive_mape = kf.mape(series, naive, "2019-03", "2019-05")
    for column in ("bus", "rail"):
        print(f"{column}: MAE {naive_mae[column]:,.0f}, MAPE {naive_mape[column]:.1%}")

    print("\n== SARIMA(1,0,0)x(0,1,1,7), refitted every day on the data since 2019-01-01 ==")
    result = kf.backtest(sarima_fn((1, 0, 0), (0, 1, 1, 7)), df["rail"], "2019-03-01",
                         "2019-05-31", origin="2019-01-01")
    sarima_mae = result.metrics.loc["t+1", "mae"]
    print(f"SARIMA MAE {sarima_mae:,.1f} (the book: 32,040.7)")
    if grid_search:
        print("\n== A small grid search over the SARIMA orders (refit every day) ==")
        table = kf.sarima_grid_search(df["rail"], "2019-03-01", "2019-05-31",
                                      orders=[(1, 0, 0), (2, 0, 0)],
                                      seasonal_orders=[(0, 1, 1, 7), (1, 1, 1, 7)],
                                      origin="2019-01-01", verbose=1)
        print(table.to_string(index=False))
    return {"naive (rail)": naive_mae["rail"], "SARIMA": sarima_mae}


def sarima_fn(order, seasonal_order):
    return lambda: kf.SARIMA(order=order, seasonal_order=seasonal_order)


def neural_models(df, epochs, names):
    """Trains the chapter's models `names` on 2016-2018; returns their validation MAEs."""
    rail_train = df["rail"]["2016-01":"2018-12"] / 1e6
    rail_valid = df["rail"]["2019-01":"2019-05"] / 1e6
    df_mulvar = df[["bus", "rail"]] / 1e6
    df_mulvar["next_day_type"] = df["day_type"].shift(-1)  # we know tomorrow's type
    df_mulvar = pd.get_dummies(df_mulvar, dtype=float)  # one-hot encode the day type
    mulvar_train = df_mulvar["2016-01":"2018-12"]
    mulvar_valid = df_mulvar["2019-01":"2019-05"]

    def windows(train, valid, **kwargs):
        return (kf.to_window_dataset(train, SEQ_LENGTH, shuffle=True, seed=42, **kwargs),
                kf.to_window_dataset(valid, SEQ_LENGTH, **kwargs))

    def seq2seq():
        return (kf.to_seq2seq_dataset(mulvar_train, SEQ_LENGTH, AHEAD, target_col="rail",
                                      shuffle=True, seed=42),
                kf.to_seq2seq_dataset(mulvar_valid, SEQ_LENGTH, AHEAD, target_col="rail"))

    def seq2seq_layers(recurrent):
        return lambda: [recurrent(32, return_sequences=True, input_shape=[None, 5]),
                        layers.Dense(AHEAD)]

    layers = kiln.layers
    # (name, layers, (train, valid) datasets, learning rate), as in the book's listings.
    # A Dense model reads (batch, 56) windows; an RNN needs a features axis: (batch, 56, 1).
    specs = [
        ("linear", lambda: [layers.Dense(1, input_shape=[SEQ_LENGTH])],
         lambda: windows(rail_train, rail_valid), 0.02),
        ("SimpleRNN", lambda: [layers.SimpleRNN(32, input_shape=[None, 1]), layers.Dense(1)],
         lambda: windows(rail_train.to_frame(), rail_valid.to_frame()), 0.05),
        ("deep RNN", lambda: [layers.SimpleRNN(32, return_sequences=True, input_shape=[None, 1]),
                              layers.SimpleRNN(32, return_sequences=True),
                              layers.SimpleRNN(32),
                              layers.Dense(1)],
         lambda: windows(rail_train.to_frame(), rail_valid.to_frame()), 0.01),
        ("multivariate RNN", lambda: [layers.SimpleRNN(32, input_shape=[None, 5]),
                                      layers.Dense(1)],
         lambda: windows(mulvar_train, mulvar_valid, target_col="rail"), 0.05),
        ("14-step-ahead RNN", lambda: [layers.SimpleRNN(32, input_shape=[None, 5]),
                                       layers.Dense(AHEAD)],
         lambda: windows(mulvar_train, mulvar_valid, target_col="rail", ahead=AHEAD), 0.02),
        ("seq2seq RNN", seq2seq_layers(layers.SimpleRNN), seq2seq, 0.1),
        ("LSTM", seq2seq_layers(layers.LSTM), seq2seq, 0.1),
        ("GRU", seq2seq_layers(layers.GRU), seq2seq, 0.1),
    ]

    results, models = {}, {}
    print(f"\n== Neural models: 56-day windows, at most {epochs} epochs ==")
    for name, layers_fn, datasets_fn, learning_rate in specs:
        if name not in names:
            continue
        train_set, valid_set = datasets_fn()
        models[name], valid_mae = fit_and_evaluate(name, layers_fn, train_set, valid_set,
                                                   learning_rate, epochs)
        if name not in SEQ2SEQ_MODELS:
            results[name] = valid_mae
            continue
        results[f"{name} (all steps)"] = valid_mae
        results[f"{name} (t+1)"] = next_day_mae(models[name], valid_set, mulvar_valid)
        print(f"   its forecasts for the next day (last time step, t+1): validation MAE "
              f"{results[f'{name} (t+1)']:,.0f}")

    if "SimpleRNN" in models:
        print("\n== The SimpleRNN's 14-day autoregressive rollout from the first 56 valid "
              "days ==")
        X = rail_valid.to_numpy()[np.newaxis, :SEQ_LENGTH, np.newaxis]
        Y_pred = kf.autoregressive_forecast(models["SimpleRNN"], X, steps=AHEAD)[0, :, 0]
        actual = rail_valid.iloc[SEQ_LENGTH:SEQ_LENGTH + AHEAD]
        print(f"MAE over the 14 days: {kf.mae(actual, Y_pred) * 1e6:,.0f} "
              "(errors accumulate: fine for a few steps only)")
    return results


def fit_and_evaluate(name, layers_fn, train_set, valid_set, learning_rate, epochs):
    """The book's ``fit_and_evaluate``: returns the model and its validation MAE in riders."""
    kiln.utils.set_random_seed(42)
    model = kiln.Sequential(layers_fn())
    early_stopping_cb = kiln.callbacks.EarlyStopping(
        monitor="val_mae", patience=50, restore_best_weights=True)
    opt = kiln.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    model.compile(loss=kiln.losses.Huber(), optimizer=opt, metrics=["mae"])
    started = time.monotonic()
    history = model.fit(train_set, validation_data=valid_set, epochs=epochs,
                        callbacks=[early_stopping_cb], verbose=0)
    _, valid_mae = model.evaluate(valid_set, verbose=0)
    best_epoch = int(np.argmin(history.history["val_mae"])) + 1
    print(f"{name}: validation MAE {valid_mae * 1e6:,.0f} (best epoch {best_epoch} of "
          f"{len(history.epoch)}, {time.monotonic() - started:.0f}s)")
    return model, valid_mae * 1e6


def next_day_mae(model, valid_set, mulvar_valid):
    """The MAE of a seq2seq model's t+1 forecasts, read at each window's last time step."""
    Y_pred_valid = model.predict(valid_set, verbose=0)
    dates = mulvar_valid.index[SEQ_LENGTH:SEQ_LENGTH + len(Y_pred_valid) - 1]
    forecasts = pd.Series(Y_pred_valid[:-1, -1, 0], index=dates)
    return kf.mae(mulvar_valid["rail"], forecasts, forecasts.index[0],
                  forecasts.index[-1]) * 1e6


def print_table(results):
    print("\n== Validation MAE (riders): kiln beside the book ==")
    print(f"{'model':<24}{'kiln':>10}{'book':>10}{'kiln/book':>11}")
    for name, value in results.items():
        book = BOOK_MAE.get(name)
        book_text, ratio = (f"{book:,}", f"{value / book:.3f}") if book else ("-", "")
        print(f"{name:<24}{value:>10,.0f}{book_text:>10}{ratio:>11}")


if __name__ == "__main__":
    main()
