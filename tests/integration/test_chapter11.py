"""The book's chapter-11 networks on kiln, trained on the 8x8 digits (Fashion MNIST needs a
download): each reaches the issue's test accuracy."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kiln


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        data.images / 16.0, data.target, test_size=0.2, random_state=42, stratify=data.target)
    return (X_train_full[:-200], X_train_full[-200:], X_test,
            y_train_full[:-200], y_train_full[-200:], y_test)


def train_and_test(model, digits, epochs, optimizer=None):
    X_train, X_valid, X_test, y_train, y_valid, y_test = digits
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=optimizer or kiln.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid), verbose=0)
    return model.evaluate(X_test, y_test, verbose=0)[1]


def test_batch_normalization_mlp(digits):
    model = kiln.Sequential([
        kiln.layers.Flatten(input_shape=[8, 8]),
        kiln.layers.Dense(300, kernel_initializer="he_normal", use_bias=False),
        kiln.layers.BatchNormalization(),
        kiln.layers.Activation("relu"),
        kiln.layers.Dense(100, kernel_initializer="he_normal", use_bias=False),
        kiln.layers.BatchNormalization(),
        kiln.layers.Activation("relu"),
        kiln.layers.Dense(10, activation="softmax"),
    ])
    assert [(var.name, var.trainable) for var in model.layers[2].variables] == [
        ("gamma", True), ("beta", True), ("moving_mean", False), ("moving_variance", False)]
    assert model.layers[2].count_params() == 1200
    assert len(model.non_trainable_weights) == 4
    assert train_and_test(model, digits, epochs=20) >= 0.95


def test_he_init_and_leaky_relu(digits):
    leaky_relu = kiln.layers.LeakyReLU(alpha=0.2)
    model = kiln.Sequential([
        kiln.layers.Flatten(input_shape=[8, 8]),
        kiln.layers.Dense(100, activation=leaky_relu, kernel_initializer="he_normal"),
        kiln.layers.Dense(100, activation=leaky_relu, kernel_initializer="he_normal"),
        kiln.layers.Dense(10, activation="softmax"),
    ])
    assert train_and_test(model, digits, epochs=20) >= 0.95


def test_dropout_and_monte_carlo_dropout(digits):
    model = kiln.Sequential([
        kiln.layers.Flatten(input_shape=[8, 8]),
        kiln.layers.Dropout(rate=0.2),
        kiln.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        kiln.layers.Dropout(rate=0.2),
        kiln.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        kiln.layers.Dropout(rate=0.2),
        kiln.layers.Dense(10, activation="softmax"),
    ])
    assert train_and_test(model, digits, epochs=30) >= 0.95
    X_test, y_test = digits[2], digits[5]
    y_probas = np.stack([model(X_test, training=True).detach().numpy() for _ in range(30)])
    y_proba = y_probas.mean(axis=0)
    assert (y_proba.argmax(axis=1) == y_test).mean() >= 0.95
    assert y_probas.std(axis=0).max() > 0
    mc_proba, mc_std = kiln.utils.mc_predict(model, X_test, n_samples=100)
    assert (mc_proba.argmax(axis=1) == y_test).mean() >= 0.95
    assert np.abs(mc_proba - y_proba).mean() < 0.02  # two Monte Carlo estimates agree


def test_max_norm(digits):
    model = kiln.Sequential([
        kiln.layers.Flatten(input_shape=[8, 8]),
        kiln.layers.Dense(100, activation="relu", kernel_initializer="he_normal",
                          kernel_constraint=kiln.constraints.max_norm(1.)),
        kiln.layers.Dense(100, activation="relu", kernel_initializer="he_normal",
                          kernel_constraint=kiln.constraints.max_norm(1.)),
        kiln.layers.Dense(10, activation="softmax"),
    ])
    assert train_and_test(model, digits, epochs=30) >= 0.95
    kernel = model.layers[1].get_weights()[0]
    assert np.linalg.norm(kernel, axis=0).max() <= 1.0 + 1e-5
