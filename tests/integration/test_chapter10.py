"""The book's chapter-10 programs on kiln, checked against the book's results."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kiln


@pytest.fixture(scope="module")
def housing_splits():
    try:
        housing = kiln.datasets.fetch_california_housing()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        housing.data, housing.target, random_state=42)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_train_full, y_train_full, random_state=42)
    return X_train, X_valid, X_test, y_train, y_valid, y_test


def test_fetch_california_housing_matches_scikit_learn_layout(housing_splits):
    housing = kiln.datasets.fetch_california_housing()
    assert housing.data.shape == (20640, 8) and not np.isnan(housing.data).any()
    assert housing.feature_names[0] == "MedInc"
    assert housing.target.max() == pytest.approx(5.00001)
    assert housing.data[0, 0] == pytest.approx(8.3252)  # first district's median income
    assert housing.data[0, 2] == pytest.approx(880 / 126)  # average rooms


def test_regression_mlp_reaches_the_books_rmse(housing_splits):
    X_train, X_valid, X_test, y_train, y_valid, y_test = housing_splits
    kiln.utils.set_random_seed(42)
    norm_layer = kiln.layers.Normalization(input_shape=X_train.shape[1:])
    model = kiln.Sequential([
        norm_layer,
        kiln.layers.Dense(50, activation="relu"),
        kiln.layers.Dense(50, activation="relu"),
        kiln.layers.Dense(50, activation="relu"),
        kiln.layers.Dense(1),
    ])
    optimizer = kiln.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss="mse", optimizer=optimizer, metrics=["RootMeanSquaredError"])
    norm_layer.adapt(X_train)
    history = model.fit(X_train, y_train, epochs=20, validation_data=(X_valid, y_valid),
                        verbose=0)
    mse_test, rmse_test = model.evaluate(X_test, y_test, verbose=0)
    assert rmse_test <= 0.57  # the book: 0.53
    assert history.history["val_root_mean_squared_error"][-1] < \
        history.history["val_root_mean_squared_error"][0]
    y_pred = model.predict(X_test[:3], verbose=0)
    assert y_pred.shape == (3, 1)


def test_wide_and_deep_with_auxiliary_output(housing_splits):
    X_train, X_valid, X_test, y_train, y_valid, y_test = housing_splits
    input_wide = kiln.layers.Input(shape=[5])
    input_deep = kiln.layers.Input(shape=[6])
    norm_layer_wide = kiln.layers.Normalization()
    norm_layer_deep = kiln.layers.Normalization()
    norm_wide = norm_layer_wide(input_wide)
    norm_deep = norm_layer_deep(input_deep)
    hidden1 = kiln.layers.Dense(30, activation="relu")(norm_deep)
    hidden2 = kiln.layers.Dense(30, activation="relu")(hidden1)
    concat = kiln.layers.concatenate([norm_wide, hidden2])
    output = kiln.layers.Dense(1)(concat)
    aux_output = kiln.layers.Dense(1)(hidden2)
    model = kiln.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    optimizer = kiln.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer=optimizer,
                  metrics=["RootMeanSquaredError"])
    X_train_wide, X_train_deep = X_train[:, :5], X_train[:, 2:]
    X_valid_wide, X_valid_deep = X_valid[:, :5], X_valid[:, 2:]
    X_test_wide, X_test_deep = X_test[:, :5], X_test[:, 2:]
    norm_layer_wide.adapt(X_train_wide)
    norm_layer_deep.adapt(X_train_deep)
    model.fit((X_train_wide, X_train_deep), (y_train, y_train), epochs=10,
              validation_data=((X_valid_wide, X_valid_deep), (y_valid, y_valid)), verbose=0)
    eval_results = model.evaluate((X_test_wide, X_test_deep), (y_test, y_test), verbose=0)
    weighted_sum_of_losses, main_loss, aux_loss, main_rmse, aux_rmse = eval_results
    assert weighted_sum_of_losses == pytest.approx(0.9 * main_loss + 0.1 * aux_loss, rel=1e-4)
    assert main_rmse < 0.65 and main_rmse == pytest.approx(np.sqrt(main_loss), rel=1e-4)
    y_pred_main, y_pred_aux = model.predict((X_test_wide[:3], X_test_deep[:3]), verbose=0)
    assert y_pred_main.shape == y_pred_aux.shape == (3, 1)


class WideAndDeepModel(kiln.Model):
    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.norm_layer_wide = kiln.layers.Normalization()
        self.norm_layer_deep = kiln.layers.Normalization()
        self.hidden1 = kiln.layers.Dense(units, activation=activation)
        self.hidden2 = kiln.layers.Dense(units, activation=activation)
        self.main_output = kiln.layers.Dense(1)
        self.aux_output = kiln.layers.Dense(1)

    def call(self, inputs):
        input_wide, input_deep = inputs
        norm_wide = self.norm_layer_wide(input_wide)
        norm_deep = self.norm_layer_deep(input_deep)
        hidden1 = self.hidden1(norm_deep)
        hidden2 = self.hidden2(hidden1)
        concat = kiln.layers.concatenate([norm_wide, hidden2])
        output = self.main_output(concat)
        aux_output = self.aux_output(hidden2)
        return output, aux_output


def test_subclassed_wide_and_deep(housing_splits, capsys):
    X_train, X_valid, X_test, y_train, y_valid, y_test = housing_splits
    kiln.utils.set_random_seed(42)
    model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
    model.compile(loss="mse", loss_weights=[0.9, 0.1], optimizer="adam",
                  metrics=["RootMeanSquaredError"])
    model.norm_layer_wide.adapt(X_train[:, :5])
    model.norm_layer_deep.adapt(X_train[:, 2:])
    model.fit((X_train[:, :5], X_train[:, 2:]), (y_train, y_train), epochs=5, verbose=0)
    results = model.evaluate((X_test[:, :5], X_test[:, 2:]), (y_test, y_test), verbose=0)
    assert len(results) == 5 and results[3] < 0.75
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "my_cool_model"' in text and "hidden1 (Dense)" not in text
    assert "dense (Dense)" in text and "normalization (Normaliz" in text


def test_digits_classifier_reaches_95_percent():
    digits = load_digits()
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        digits.images / 16.0, digits.target, test_size=0.2, random_state=42,
        stratify=digits.target)
    X_train, X_valid = X_train_full[:-200], X_train_full[-200:]
    y_train, y_valid = y_train_full[:-200], y_train_full[-200:]
    kiln.utils.set_random_seed(42)
    model = kiln.Sequential()
    model.add(kiln.layers.InputLayer(input_shape=[8, 8]))
    model.add(kiln.layers.Flatten())
    model.add(kiln.layers.Dense(300, activation="relu"))
    model.add(kiln.layers.Dense(100, activation="relu"))
    model.add(kiln.layers.Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    # 1,237 training images instead of Fashion MNIST's 55,000: more epochs for as many steps
    history = model.fit(X_train, y_train, epochs=100, validation_data=(X_valid, y_valid),
                        verbose=0)
    assert history.history["val_accuracy"][-1] > 0.9
    test_loss, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
    assert test_accuracy >= 0.95
    y_proba = model.predict(X_test[:3], verbose=0)
    assert (y_proba.argmax(axis=1) == y_test[:3]).all()
