"""kiln's main job end to end: the book's chapter-10 models, trained, evaluated and reported.

1. The image classifier MLP (Flatten + Dense 300/100 relu + Dense softmax, SGD, sparse
   cross-entropy, accuracy; 100 epochs) on scikit-learn's bundled 8x8 digits, the small image set that
   ships with an install (Fashion MNIST needs a download).
2. The regression MLP (Normalization + 3 x Dense(50, relu) + Dense(1), Adam 1e-3, MSE, RMSE)
   on California housing from the dataset cache (`KILN_DATASETS`), when it is there.

Run with `make demo`, or `python examples/demo.py [--epochs-digits 30] [--epochs-housing 20]`.
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kiln


def image_classifier(epochs):
    print("== Chapter 10: an image classifier MLP on the 8x8 digits ==")
    digits = load_digits()
    X = digits.images / 16.0  # pixel intensities 0..16 scaled to 0..1, as the book scales by 255
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        X, digits.target, test_size=0.2, random_state=42, stratify=digits.target)
    X_train, X_valid = X_train_full[:-200], X_train_full[-200:]
    y_train, y_valid = y_train_full[:-200], y_train_full[-200:]

    kiln.utils.set_random_seed(42)
    model = kiln.Sequential()
    model.add(kiln.layers.InputLayer(input_shape=[8, 8]))
    model.add(kiln.layers.Flatten())
    model.add(kiln.layers.Dense(300, activation="relu"))
    model.add(kiln.layers.Dense(100, activation="relu"))
    model.add(kiln.layers.Dense(10, activation="softmax"))
    model.summary()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid))
    test_loss, test_accuracy = model.evaluate(X_test, y_test)
    y_proba = model.predict(X_test[:3], verbose=0)
    print(f"digits: test loss {test_loss:.4f}, test accuracy {test_accuracy:.4f}")
    print(f"first 3 test digits: predicted {np.argmax(y_proba, axis=1).tolist()}, "
          f"true {y_test[:3].tolist()}")
    return test_accuracy


def housing_splits():
    """The book's California housing splits: train 11,610, validation 3,870, test 5,160."""
    housing = kiln.datasets.fetch_california_housing()
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        housing.data, housing.target, random_state=42)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_train_full, y_train_full, random_state=42)
    return X_train, X_valid, X_test, y_train, y_valid, y_test


def make_regression_mlp(X_train):
    """The book's regression MLP, compiled, with its Normalization layer adapted to `X_train`."""
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
    return model


def regression_mlp(epochs):
    print("\n== Chapter 10: a regression MLP on California housing ==")
    try:
        X_train, X_valid, X_test, y_train, y_valid, y_test = housing_splits()
    except FileNotFoundError as error:
        print(f"skipped: {error}")
        return None
    model = make_regression_mlp(X_train)
    model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid))
    mse_test, rmse_test = model.evaluate(X_test, y_test)
    y_pred = model.predict(X_test[:3], verbose=0)
    print(f"housing: test MSE {mse_test:.4f}, test RMSE {rmse_test:.4f} (the book: 0.53)")
    print(f"first 3 test districts: predicted {np.round(y_pred.ravel().astype(float), 2).tolist()}, "
          f"true {np.round(y_test[:3], 2).tolist()} (x $100,000)")
    return rmse_test


def main():
    parser = argparse.ArgumentParser(description="kiln's chapter-10 demo")
    # 1,237 training digits instead of Fashion MNIST's 55,000: more epochs for plain SGD
    parser.add_argument("--epochs-digits", type=int, default=100)
    parser.add_argument("--epochs-housing", type=int, default=20)
    args = parser.parse_args()
    image_classifier(args.epochs_digits)
    regression_mlp(args.epochs_housing)


if __name__ == "__main__":
    main()
