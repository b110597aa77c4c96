import numpy as np
import pytest

import kiln
from kiln.layers import Dense


def small_model(learning_rate=0.01):
    model = kiln.Sequential([kiln.Input(shape=[2]), Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=learning_rate))
    return model


X, Y = np.random.default_rng(0).normal(size=(64, 2)), np.zeros(64)


def test_learning_rate_scheduler_one_and_two_argument_forms():
    def exponential_decay_fn(epoch):
        return 0.01 * 0.1 ** (epoch / 20)

    model = small_model()
    history = model.fit(X, Y, epochs=3, verbose=0, callbacks=[
        kiln.callbacks.LearningRateScheduler(exponential_decay_fn)])
    np.testing.assert_allclose(history.history["learning_rate"],
                               [exponential_decay_fn(e) for e in range(3)], rtol=1e-6)
    halve = kiln.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = small_model(0.08).fit(X, Y, epochs=3, verbose=0, callbacks=[halve])
    np.testing.assert_allclose(history.history["learning_rate"], [0.04, 0.02, 0.01])


def test_learning_rate_scheduler_rejects_non_numbers():
    model = small_model()
    with pytest.raises(ValueError, match="must return a number"):
        model.fit(X, Y, epochs=1, verbose=0,
                  callbacks=[kiln.callbacks.LearningRateScheduler(lambda epoch: "fast")])
    with pytest.raises(ValueError, match="finite number"):
        model.fit(X, Y, epochs=1, verbose=0,
                  callbacks=[kiln.callbacks.LearningRateScheduler(lambda epoch: float("nan"))])


def test_reduce_lr_on_plateau_reduces_after_patience():
    class FlatLoss(kiln.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = 1.0  # never improves after the first epoch

    model = small_model(0.1)
    reducer = kiln.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.02)
    history = model.fit(X, Y, epochs=8, verbose=0, callbacks=[FlatLoss(), reducer])
    np.testing.assert_allclose(history.history["learning_rate"],
                               [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02], rtol=1e-6)
    with pytest.raises(ValueError, match="factor"):
        kiln.callbacks.ReduceLROnPlateau(factor=1.5)


def test_nan_loss_stops_training_naming_epoch_and_step():
    model = small_model(1e30)
    y = np.full(64, 1e20)
    with pytest.warns(RuntimeWarning, match=r"NaN in epoch 1, step \d+: training stopped"):
        history = model.fit(X, y, epochs=5, batch_size=8, verbose=0)
    assert history.epoch == [0]


def test_terminate_on_nan_callback_catches_infinite_losses(capsys):
    model = small_model(1e30)
    history = model.fit(X, np.full(64, 1e20), epochs=3, batch_size=8, verbose=0,
                        callbacks=[kiln.callbacks.TerminateOnNaN()])
    assert len(history.epoch) == 1
    assert "Invalid loss, terminating training" in capsys.readouterr().out
