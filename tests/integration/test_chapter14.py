"""The book's chapter-14 programs on kiln (examples/), checked against the book's results."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import kiln

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import chapter14_cnn
import localization
import resnet34
import transfer_learning

# ---------------------------------------------------------------- the chapter's CNN


def test_chapter_cnn_has_the_books_layers_and_parameter_count():
    model = chapter14_cnn.make_cnn()
    convs = [layer for layer in model.layers if isinstance(layer, kiln.layers.Conv2D)]
    assert [conv.filters for conv in convs] == [64, 128, 128, 256, 256]
    assert [conv.kernel_size for conv in convs] == [(7, 7)] + [(3, 3)] * 4
    assert all(conv.padding == "same" for conv in convs)
    assert sum(isinstance(layer, kiln.layers.MaxPool2D) for layer in model.layers) == 3
    assert sum(isinstance(layer, kiln.layers.Dropout) for layer in model.layers) == 2
    conv_params = [7 * 7 * 1 * 64 + 64, 9 * 64 * 128 + 128, 9 * 128 * 128 + 128,
                   9 * 128 * 256 + 256, 9 * 256 * 256 + 256]
    dense_params = [3 * 3 * 256 * 128 + 128, 128 * 64 + 64, 64 * 10 + 10]  # 28 -> 14 -> 7 -> 3
    assert model.count_params() == sum(conv_params) + sum(dense_params) == 1_413_834


def test_chapter_cnn_on_upscaled_digits_reaches_97_percent(monkeypatch, tmp_path):
    monkeypatch.setenv("KILN_DATASETS", str(tmp_path))  # no Fashion MNIST: the digits
    name, *splits = chapter14_cnn.load_splits("auto")
    assert name == "digits"
    (X_train, _), (X_valid, _), (X_test, _) = splits
    assert X_train.shape[1:] == (28, 28, 1) and len(X_train) + len(X_valid) + len(X_test) == 1797
    assert X_train[:, :2].max() == 0.0 and X_train.max() == 1.0  # padded, scaled to 0-1
    _, history, test_accuracy = chapter14_cnn.train_and_evaluate(splits, epochs=10, filters=16,
                                                                 verbose=0)
    assert test_accuracy >= 0.97
    assert history.history["val_accuracy"][-1] > history.history["val_accuracy"][0]


def test_load_splits_rejects_an_unknown_dataset():
    with pytest.raises(ValueError, match="argument `dataset`: 'cifar'"):
        chapter14_cnn.load_splits("cifar")


# ---------------------------------------------------------------- ResNet-34


def test_resnet34_has_the_books_parameter_count():
    model = resnet34.make_resnet34(input_shape=(224, 224, 3), n_classes=10)
    units = [layer for layer in model.layers if isinstance(layer, resnet34.ResidualUnit)]
    assert len(units) == 16
    assert model.output_shape == (None, 10)
    # conv1 + BN; per stage: first unit (with a 1x1 skip when it downsizes), then the others
    def unit(in_filters, filters):
        params = 9 * in_filters * filters + 9 * filters * filters + 2 * 4 * filters
        return params + (in_filters * filters + 4 * filters if in_filters != filters else 0)
    expected = 7 * 7 * 3 * 64 + 4 * 64 + 512 * 10 + 10
    previous = 64
    for filters, count in ((64, 3), (128, 4), (256, 6), (512, 3)):
        expected += unit(previous, filters) + (count - 1) * unit(filters, filters)
        previous = filters
    assert model.count_params() == expected == 21_306_826
    moving_statistics = sum(w.numel() for w in model.non_trainable_weights)
    assert moving_statistics == 21_306_826 - 21_289_802


def test_residual_unit_shapes_skip_path_and_config():
    unit = resnet34.ResidualUnit(8, strides=2)
    inputs = torch.rand(2, 6, 6, 4)
    outputs = unit(inputs)
    assert outputs.shape == (2, 3, 3, 8) and bool((outputs >= 0).all())
    assert len(unit.skip_layers) == 2 and len(resnet34.ResidualUnit(8).skip_layers) == 0
    rebuilt = resnet34.ResidualUnit.from_config(unit.get_config())
    rebuilt(inputs)
    rebuilt.set_weights(unit.get_weights())
    torch.testing.assert_close(rebuilt(inputs), outputs)


def test_resnet34_trains_on_small_images():
    model = resnet34.make_resnet34(input_shape=(32, 32, 3), n_classes=4)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam")
    rng = np.random.default_rng(0)
    images = rng.random((8, 32, 32, 3), dtype=np.float32)
    labels = np.arange(8) % 4
    first_kernel = model.layers[0].kernel.detach().clone()
    history = model.fit(images, labels, batch_size=8, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert not torch.equal(model.layers[0].kernel, first_kernel)


# ---------------------------------------------------------------- transfer learning

COLORS = {"cool": [(40, 90, 230), (30, 200, 220)], "warm": [(230, 60, 30), (240, 160, 20)]}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Two classes of 32x32 PNGs: noisy blue/cyan ("cool") and red/orange ("warm") images."""
    from PIL import Image
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for class_name, tints in COLORS.items():
        (folder / class_name).mkdir()
        for index in range(30):
            tint = np.array(tints[index % 2])
            pixels = np.clip(tint + rng.normal(0, 25, size=(32, 32, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / class_name / f"{index}.png")
    return folder


def _pretrained_small_base():
    """A small CNN base, pretrained on a source task: which RGB channel dominates an image."""
    inputs = kiln.layers.Input(shape=[32, 32, 3])
    Z = kiln.layers.Conv2D(16, 3, activation="relu")(inputs)
    Z = kiln.layers.MaxPool2D()(Z)
    Z = kiln.layers.Conv2D(32, 3, activation="relu")(Z)
    base_model = kiln.Model(inputs=inputs, outputs=Z)
    head = kiln.layers.Dense(3, activation="softmax")(
        kiln.layers.GlobalAveragePooling2D()(base_model.output))
    source_model = kiln.Model(inputs=base_model.input, outputs=head)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=300)
    images = rng.uniform(-1, 0, size=(300, 32, 32, 3)).astype(np.float32)
    images[np.arange(300), :, :, labels] += 1.0  # the dominant channel, in [-1, 1] like the data
    source_model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                         metrics=["accuracy"])
    source_model.fit(images, labels, epochs=3, verbose=0)
    return base_model


def test_transfer_learning_reaches_high_accuracy_on_an_image_folder(image_folder):
    train_set, valid_set, class_names = transfer_learning.load_image_folder(
        image_folder, image_size=(32, 32), batch_size=16)
    assert class_names == ["cool", "warm"]
    images, _ = next(iter(train_set))
    assert images.shape[1:] == (32, 32, 3) and -1.0 <= float(images.min()) < float(images.max()) <= 1.0
    base_model = _pretrained_small_base()
    model = transfer_learning.build_transfer_model(base_model, len(class_names))
    _, history = transfer_learning.train_transfer_model(
        model, base_model, train_set, valid_set, epochs_frozen=3, epochs_unfrozen=3,
        unfreeze_from=3, verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.95


def test_transfer_learning_freezes_then_unfreezes_xception_from_layer_56(image_folder):
    train_set, _, class_names = transfer_learning.load_image_folder(
        image_folder, image_size=(71, 71), batch_size=16, validation_split=0.9)
    base_model = kiln.applications.xception.Xception(weights=None, include_top=False,
                                                     input_shape=(71, 71, 3))
    assert base_model.layers[56].name == "block7_sepconv1_act"
    model = transfer_learning.build_transfer_model(base_model, len(class_names))
    frozen_part = [w.detach().clone() for layer in base_model.layers[:56] for w in layer.weights]
    head_kernel = model.layers[-1].kernel.detach().clone()
    unfrozen_kernel = base_model.get_layer("block14_sepconv2").pointwise_kernel
    first_unfrozen = unfrozen_kernel.detach().clone()
    frozen_history, _ = transfer_learning.train_transfer_model(
        model, base_model, train_set, train_set, epochs_frozen=1, epochs_unfrozen=1, verbose=0)
    assert np.isfinite(frozen_history.history["loss"]).all()
    assert not torch.equal(model.layers[-1].kernel, head_kernel)  # the head trained
    assert not torch.equal(unfrozen_kernel, first_unfrozen)  # so did layers[56:] in phase 2
    assert all(torch.equal(w, before) for w, before in zip(
        (w for layer in base_model.layers[:56] for w in layer.weights), frozen_part))
    assert not any(layer.trainable for layer in base_model.layers[:56])
    assert all(layer.trainable for layer in base_model.layers[56:])


# ---------------------------------------------------------------- classification + localization


def test_shapes_dataset_boxes_frame_the_shapes():
    images, labels, boxes = localization.make_shapes_dataset(20, image_size=32)
    assert images.shape == (20, 32, 32, 3) and set(labels) <= {0, 1, 2}
    for image, box in zip(images, boxes):
        center_x, center_y, width, height = box * 32
        rows, columns = np.nonzero(image.max(axis=-1) >= 0.5)  # the shape's pixels
        assert columns.min() >= center_x - width / 2 and columns.max() < center_x + width / 2
        assert rows.min() >= center_y - height / 2 and rows.max() < center_y + height / 2
        assert columns.max() - columns.min() + 1 >= width - 2  # the box is tight


def test_localization_model_learns_classes_and_boxes():
    images, labels, boxes = localization.make_shapes_dataset(1200, image_size=32)
    model = localization.make_localization_model(images.shape[1:])
    assert [tuple(output.shape) for output in model.outputs] == [(None, 3), (None, 4)]
    history = model.fit(images[200:], (labels[200:], boxes[200:]), epochs=6, verbose=0,
                        validation_data=(images[:200], (labels[:200], boxes[:200])))
    ious = history.history["val_box_output_mean_box_iou"]
    assert history.history["val_class_output_accuracy"][-1] >= 0.9
    assert ious[-1] >= 0.4 and ious[-1] > ious[0] + 0.1
    _, predicted_boxes = model.predict(images[:200], verbose=0)
    recomputed = kiln.metrics.box_iou(boxes[:200], predicted_boxes, box_format="center_xywh")
    assert float(recomputed.mean()) == pytest.approx(ious[-1], abs=1e-4)
