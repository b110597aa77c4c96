import numpy as np
import pytest
import torch

import kiln
from kiln.layers import CenterCrop, Rescaling, Resizing
from layer_contract import check_layer_contract


def _image(height, width, channels=1):
    return torch.arange(height * width * channels, dtype=torch.float32).reshape(
        height, width, channels)


def test_rescaling_formula_and_dtype():
    pixels = torch.tensor([[0, 51, 255]], dtype=torch.uint8)
    out = Rescaling(scale=1 / 127.5, offset=-1.0)(pixels)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), np.array([[0, 51, 255]]) / 127.5 - 1, rtol=1e-6)
    np.testing.assert_allclose(Rescaling(0.5)(torch.tensor([2.0, 6.0])).numpy(), [1.0, 3.0])


def test_center_crop_takes_the_middle():
    image = _image(5, 6, 2)
    out = CenterCrop(3, 2)(image)
    np.testing.assert_array_equal(out.numpy(), image.numpy()[1:4, 2:4])
    batch = torch.stack([image, image + 100])
    np.testing.assert_array_equal(CenterCrop(3, 2)(batch).numpy(), batch.numpy()[:, 1:4, 2:4])


def test_center_crop_resizes_images_smaller_than_the_target():
    out = CenterCrop(4, 4)(torch.ones(2, 2, 2, 3, dtype=torch.uint8) * 7)
    assert out.shape == (2, 4, 4, 3) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), 7.0)


def test_resizing_bilinear_upsampling_uses_half_pixel_centers():
    image = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).reshape(2, 2, 1)
    out = Resizing(4, 4)(image)[..., 0].numpy()
    # Output pixel i samples input coordinate (i + 0.5) / 2 - 0.5, clamped at the border.
    steps = np.array([0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(out, 2 * steps[:, None] + steps[None, :], atol=1e-6)


def test_resizing_nearest_and_area_downsampling():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(2, 4, 6, 3)).astype(np.float32)
    nearest = Resizing(2, 3, interpolation="nearest")(images).numpy()
    np.testing.assert_array_equal(nearest, images[:, 1::2, 1::2])
    means = images.reshape(2, 2, 2, 3, 2, 3).mean(axis=(2, 4))
    for mode in ("area", "bilinear"):  # a 2x bilinear downsampling averages 2x2 blocks too
        np.testing.assert_allclose(Resizing(2, 3, interpolation=mode)(images).numpy(), means,
                                   rtol=1e-5)


def test_resizing_crop_to_aspect_ratio_keeps_the_central_square():
    images = torch.rand(1, 4, 8, 2)
    out = Resizing(2, 2, crop_to_aspect_ratio=True)(images).numpy()
    square = images.numpy()[:, :, 2:6]
    np.testing.assert_allclose(out, square.reshape(1, 2, 2, 2, 2, 2).mean(axis=(2, 4)), rtol=1e-5)


def test_resizing_single_uint8_image_and_antialias():
    image = (torch.arange(64 * 64 * 3) % 256).to(torch.uint8).reshape(64, 64, 3)
    out = Resizing(16, 16, antialias=True)(image)
    assert out.shape == (16, 16, 3) and out.dtype == torch.float32
    expected = torch.nn.functional.interpolate(
        image.permute(2, 0, 1)[None].float(), size=(16, 16), mode="bilinear",
        align_corners=False, antialias=True)[0].permute(1, 2, 0)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("make_layer, output_shape", [
    (lambda: Resizing(3, 5), (2, 3, 5, 3)),
    (lambda: Resizing(4, 4, interpolation="bicubic", crop_to_aspect_ratio=True), (2, 4, 4, 3)),
    (lambda: CenterCrop(4, 2), (2, 4, 2, 3)),
    (lambda: Rescaling(1 / 255, offset=0.5), (2, 6, 7, 3)),
])
def test_layer_contract(make_layer, output_shape):
    check_layer_contract(make_layer, (2, 6, 7, 3), output_shape)
    check_layer_contract(make_layer, (2, 6, 7, 3), output_shape, input_dtype=torch.uint8)


@pytest.mark.parametrize("make_layer, argument", [
    (lambda: Resizing(0, 4), "height"),
    (lambda: Resizing(4, 2.5), "width"),
    (lambda: Resizing(4, 4, interpolation="lanczos7"), "interpolation"),
    (lambda: CenterCrop(-1, 4), "height"),
    (lambda: Rescaling("x"), "scale"),
    (lambda: Rescaling(1.0, offset=float("nan")), "offset"),
])
def test_bad_arguments_name_the_argument(make_layer, argument):
    with pytest.raises(ValueError, match=argument):
        make_layer()


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="channels-last images"):
        Resizing(2, 2)(torch.ones(4, 4))


def test_preprocessing_in_a_model_and_in_dataset_map():
    images = torch.randint(0, 256, (8, 10, 12, 3), dtype=torch.uint8)
    labels = torch.arange(8) % 2
    preprocess = kiln.Sequential([Resizing(8, 8, crop_to_aspect_ratio=True),
                                  Rescaling(1 / 255)])
    dataset = kiln.data.Dataset.from_tensor_slices((images, labels)).map(
        lambda x, y: (preprocess(x), y)).batch(4)
    batches = list(dataset)
    expected = preprocess(images)
    torch.testing.assert_close(torch.cat([x for x, _ in batches]), expected)
    assert float(expected.max()) <= 1.0 and expected.shape == (8, 8, 8, 3)

    model = kiln.Sequential([kiln.layers.Input(shape=[10, 12, 3], dtype=torch.uint8), preprocess,
                             kiln.layers.Flatten(), kiln.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    history = model.fit(images, labels, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_rescaling_takes_a_scale_and_offset_per_channel():
    images = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    layer = kiln.layers.Rescaling([1.0, 2.0, 4.0], offset=[0.0, -1.0, 1.0])
    expected = images * np.array([1, 2, 4], "float32") + np.array([0, -1, 1], "float32")
    np.testing.assert_allclose(layer(images).numpy(), expected, rtol=1e-6)
    restored = kiln.layers.Rescaling.from_config(layer.get_config())
    np.testing.assert_allclose(restored(images).numpy(), expected, rtol=1e-6)
    assert layer.weights == []


def test_rescaling_rejects_a_non_numeric_scale_per_channel():
    with pytest.raises(ValueError, match="`scale`"):
        kiln.layers.Rescaling([1.0, "two"])
