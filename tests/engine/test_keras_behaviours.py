"""Keras behaviours a book reader relies on, each found missing once and now kept."""

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Dense

rng = np.random.default_rng(0)
X = rng.normal(size=(100, 8)).astype(np.float32)
y = X[:, 0] * 2.0


def compiled(model, loss="mse", optimizer=None, **kwargs):
    model.compile(loss=loss, optimizer=optimizer or kiln.optimizers.SGD(learning_rate=0.01),
                  **kwargs)
    return model


def test_generators_keep_their_first_batch():
    def batches():
        for i in range(0, 100, 10):
            yield X[i:i + 10], y[i:i + 10]

    class Count(kiln.callbacks.Callback):
        steps = 0

        def on_train_batch_end(self, batch, logs=None):
            Count.steps += 1

    model = compiled(kiln.Sequential([Dense(1)]))
    model.fit(batches(), epochs=1, verbose=0, callbacks=[Count()])
    assert Count.steps == 10


def test_layers_in_lists_and_dicts_are_tracked():
    class Tower(kiln.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = []
            for _ in range(2):
                self.hidden.append(Dense(4))
            self.heads = {"a": Dense(1)}
            self.mixed = [Dense(2), "relu"]

        def call(self, inputs):
            z = inputs
            for layer in self.hidden:
                z = layer(z)
            return self.heads["a"](z) + self.mixed[0](z).sum(-1, keepdim=True)

    tower = Tower()
    tower(torch.ones(1, 3))
    assert len(tower.trainable_weights) == 8
    model = compiled(kiln.Sequential([tower]))
    before = [w.detach().clone() for w in tower.trainable_weights]
    model.fit(X[:, :3], y, epochs=1, verbose=0)
    assert all(not torch.equal(b, a) for b, a in zip(before, tower.trainable_weights))


def test_torch_modules_follow_kilns_training_flag():
    model = kiln.Sequential([kiln.Input(shape=[8]), Dense(8), torch.nn.Dropout(0.5)])
    assert torch.equal(model(X), model(X))  # inference by default
    assert not torch.equal(model(X, training=True), model(X, training=True))
    norm = torch.nn.BatchNorm1d(8)
    model = kiln.Sequential([kiln.Input(shape=[8]), norm])
    model(X)
    assert torch.equal(norm.running_mean, torch.zeros(8))  # inference leaves statistics alone


@pytest.mark.parametrize("name", ["optimizer", "loss", "history", "layers", "inputs"])
def test_layer_names_never_collide_with_model_attributes(name):
    inputs = kiln.Input(shape=[8])
    model = compiled(kiln.Model(inputs, Dense(1, name=name)(inputs)))
    model.fit(X, y, epochs=1, verbose=0)
    assert model.get_layer(name).name == name


def test_state_dict_keys_do_not_depend_on_default_names():
    def make():
        return kiln.Sequential([kiln.Input(shape=[8]), Dense(3), Dense(1)])
    first, second = make(), make()
    second.load_state_dict(first.state_dict())
    torch.testing.assert_close(first(X), second(X))


def test_dict_inputs_and_outputs_are_keyed_by_their_dict_keys():
    wide, deep = kiln.Input(shape=[5]), kiln.Input(shape=[6])
    hidden = Dense(4, activation="relu")(deep)
    main = Dense(1)(kiln.layers.concatenate([wide, hidden]))
    model = kiln.Model(inputs={"wide": wide, "deep": deep},
                       outputs={"main": main, "aux": Dense(1)(hidden)})
    compiled(model, loss={"main": "mse", "aux": "mae"}, loss_weights={"main": 0.9, "aux": 0.1})
    data = {"wide": X[:, :5], "deep": X[:, 2:]}
    history = model.fit(data, {"main": y, "aux": y}, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "main_loss", "aux_loss"}
    predictions = model.predict(data, verbose=0)
    assert set(predictions) == {"main", "aux"}


def test_evaluate_before_fit_includes_regularization():
    model = compiled(kiln.Sequential([Dense(1, kernel_initializer="ones",
                                            kernel_regularizer=kiln.regularizers.L2(10.0))]),
                     optimizer=kiln.optimizers.SGD(learning_rate=0.0))
    before = model.evaluate(X, y, verbose=0)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.evaluate(X, y, verbose=0) == pytest.approx(before, rel=1e-6)
    data_loss = np.mean((X.sum(axis=1) - y) ** 2)
    assert before == pytest.approx(data_loss + 10.0 * 8, rel=1e-4)


def test_steps_per_epoch_with_validation_split_and_class_weight_only_on_training():
    model = compiled(kiln.Sequential([Dense(1)]))
    history = model.fit(X, y, steps_per_epoch=1, validation_split=0.2, epochs=1, verbose=0)
    assert history.params["steps"] == 1
    classifier = compiled(kiln.Sequential([Dense(3, activation="softmax")]),
                          loss="sparse_categorical_crossentropy",
                          optimizer=kiln.optimizers.SGD(learning_rate=0.0))
    labels = (np.arange(100) % 3).astype(np.int64)
    history = classifier.fit(X, labels, class_weight={0: 100.0, 1: 1.0, 2: 1.0},
                             validation_split=0.2, epochs=1, verbose=0)
    val_loss = classifier.evaluate(X[80:], labels[80:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-5)


def test_model_from_config_dispatches_to_functional():
    inputs = kiln.Input(shape=[8])
    model = kiln.Model(inputs, Dense(2)(Dense(3)(inputs)))
    clone = kiln.Model.from_config(model.get_config())
    assert isinstance(clone, kiln.Functional) and clone.count_params() == model.count_params()


def test_keras_style_custom_train_step():
    class CustomModel(kiln.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            grads = torch.autograd.grad(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = compiled(CustomModel(), metrics=["mae"])
    history = model.fit(X, y, epochs=3, verbose=0)
    true_mse = np.mean((model.predict(X, verbose=0)[:, 0] - y) ** 2)
    assert history.history["loss"][-1] == pytest.approx(true_mse, rel=0.5)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_labels_out_of_range_anywhere_in_the_data():
    model = compiled(kiln.Sequential([Dense(3, activation="softmax")]),
                     loss="sparse_categorical_crossentropy")
    labels = np.zeros(100, dtype=np.int64)
    labels[-1] = 7
    with pytest.raises(ValueError, match=r"label value of 7"):
        model.fit(X, labels, epochs=1, verbose=0)


def test_failed_add_leaves_sequential_unchanged_and_config_keeps_input_dtype():
    model = kiln.Sequential([kiln.Input(shape=[8], dtype="int64"), Dense(3)])
    with pytest.raises(ValueError):
        model.add(kiln.layers.Reshape((2, 2)))
    assert [type(l).__name__ for l in model.layers] == ["Dense"] and model.built
    clone = kiln.Sequential.from_config(model.get_config())
    assert clone._input_dtype == torch.int64


def test_numpy_integer_units_and_nested_python_lists():
    layer = Dense(np.int64(3))
    assert layer.units == 3
    model = kiln.Sequential([kiln.Input(shape=[3]), Dense(1)])
    assert model([[0.1, 0.2, 0.3]]).shape == (1, 1)
    assert model.predict([[0.1, 0.2, 0.3], [1, 2, 3]], verbose=0).shape == (2, 1)


def test_lambda_keeps_the_dtype_it_computes():
    indices = kiln.layers.Lambda(lambda t: t.argmax(-1))(kiln.Input(shape=[4]))
    assert indices.dtype == torch.int64 and indices.shape == (None,)


def test_train_on_batch_prepares_once_for_the_same_shapes(monkeypatch):
    model = compiled(kiln.Sequential([kiln.Input(shape=[8]), Dense(1)]))
    model.train_on_batch(X[:32], y[:32])
    calls = []
    monkeypatch.setattr(type(model), "_check_data",
                        lambda self, *args: calls.append(args))
    for _ in range(3):
        model.train_on_batch(X[:32], y[:32])
    assert calls == []
