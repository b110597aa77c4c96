import numpy as np
import pytest
import torch

import kiln
from kiln.layers import (RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomHeight,
                         RandomRotation, RandomTranslation, RandomWidth, RandomZoom, Resizing)
from layer_contract import check_layer_contract

ALL_LAYERS = [
    lambda: RandomFlip(seed=1), lambda: RandomRotation(0.2, seed=1),
    lambda: RandomZoom(0.3, seed=1), lambda: RandomTranslation(0.2, 0.3, seed=1),
    lambda: RandomContrast(0.3, seed=1), lambda: RandomBrightness(0.3, seed=1),
    lambda: RandomHeight(0.3, seed=1), lambda: RandomWidth(0.3, seed=1),
]


def _linear_image(height, width):
    """A one-channel image whose pixel (y, x) is 10 y + x: bilinear sampling is exact on it."""
    return (10 * torch.arange(height)[:, None] + torch.arange(width)).float()[..., None]


@pytest.mark.parametrize("make_layer", ALL_LAYERS)
def test_identity_at_inference_with_float32_output(make_layer):
    images = torch.randint(0, 256, (3, 8, 9, 2), dtype=torch.uint8)
    layer = make_layer()
    for out in (layer(images), layer(images, training=False)):
        assert out.dtype == torch.float32
        np.testing.assert_array_equal(out.numpy(), images.numpy())


@pytest.mark.parametrize("make_layer", ALL_LAYERS)
def test_same_seed_same_augmentations_and_single_images(make_layer):
    images = torch.rand(6, 8, 9, 3) * 255
    first, second = make_layer(), make_layer()
    torch.testing.assert_close(first(images, training=True), second(images, training=True))
    assert not torch.equal(first(images, training=True), first(images, training=True))
    single = make_layer()(images[0], training=True)
    assert single.dim() == 3 and single.shape[-1] == 3


def test_unseeded_layers_follow_the_global_seed():
    images = torch.rand(4, 8, 8, 3)
    kiln.utils.set_random_seed(7)
    first = RandomRotation(0.3)(images, training=True)
    kiln.utils.set_random_seed(7)
    torch.testing.assert_close(RandomRotation(0.3)(images, training=True), first)


def test_random_flip_gives_exact_flips_about_half_the_time():
    images = torch.rand(400, 3, 4, 1)
    flipped = RandomFlip("horizontal", seed=0)(images, training=True)
    mirrored = torch.all((flipped == images.flip(2)).flatten(1), dim=1)
    same = torch.all((flipped == images).flatten(1), dim=1)
    assert bool(torch.all(mirrored ^ same))
    assert 160 < int(mirrored.sum()) < 240
    both = RandomFlip(seed=0)(images, training=True)
    options = torch.stack([images, images.flip(1), images.flip(2), images.flip(1, 2)])
    matches = torch.all((both[None] == options).flatten(2), dim=2)  # (4 options, 400)
    assert bool(torch.all(matches.sum(0) == 1))
    counts = matches.sum(1)
    assert int(counts.min()) > 60, counts


def test_rotation_by_a_quarter_turn_is_rot90_counter_clockwise():
    image = torch.arange(25.0).reshape(1, 5, 5, 1)
    out = RandomRotation(factor=(0.25, 0.25))(image, training=True)
    np.testing.assert_allclose(out[0, ..., 0].numpy(), np.rot90(image[0, ..., 0].numpy()),
                               atol=1e-4)
    clockwise = RandomRotation(factor=(-0.25, -0.25))(image, training=True)
    np.testing.assert_allclose(clockwise[0, ..., 0].numpy(),
                               np.rot90(image[0, ..., 0].numpy(), k=-1), atol=1e-4)


def test_half_turn_of_a_non_square_image_flips_both_axes():
    image = torch.rand(2, 4, 6, 3)
    out = RandomRotation(factor=(0.5, 0.5), interpolation="nearest")(image, training=True)
    torch.testing.assert_close(out, image.flip(1, 2))


def test_translation_shifts_pixels_and_fills():
    image = _linear_image(8, 8)[None]
    right = RandomTranslation(0.0, (0.25, 0.25), fill_mode="constant", fill_value=-1.0)(
        image, training=True)[0, ..., 0].numpy()
    expected = np.full((8, 8), -1.0)
    expected[:, 2:] = image[0, :, :6, 0].numpy()
    np.testing.assert_allclose(right, expected, atol=1e-4)
    up = RandomTranslation((-0.25, -0.25), 0.0)(image, training=True)[0, ..., 0].numpy()
    reflected = np.pad(image[0, ..., 0].numpy(), ((0, 2), (0, 0)), mode="symmetric")[2:]
    np.testing.assert_allclose(up, reflected, atol=1e-4)
    for interpolation in ("nearest", "bilinear"):
        wrapped = RandomTranslation(0.0, (0.25, 0.25), fill_mode="wrap",
                                    interpolation=interpolation)(image, training=True)
        np.testing.assert_allclose(wrapped[0, ..., 0].numpy(),
                                   np.roll(image[0, ..., 0].numpy(), 2, axis=1), atol=1e-4)
    edge = RandomTranslation((0.5, 0.5), 0.0, fill_mode="nearest")(image, training=True)
    np.testing.assert_allclose(edge[0, :4, :, 0].numpy(), np.tile(image[0, 0, :, 0], (4, 1)))


def test_translation_amounts_stay_in_range():
    image = torch.zeros(500, 1, 20, 1)
    image[:, 0, 10] = 1.0  # one bright pixel; its position after the shift gives the shift
    out = RandomTranslation(0.0, (-0.2, 0.3), fill_mode="constant", interpolation="nearest",
                            seed=3)(image, training=True)
    shifts = out[:, 0, :, 0].argmax(dim=1) - 10
    assert int(shifts.min()) >= -4 and int(shifts.max()) <= 6
    assert set(range(-3, 6)) <= set(shifts.tolist())


def test_zoom_in_and_out():
    image = _linear_image(4, 4)[None]
    zoom_in = RandomZoom((-0.5, -0.5))(image, training=True)[0, ..., 0].numpy()
    coordinates = 0.5 * (np.arange(4) - 1.5) + 1.5  # output pixel -> input coordinate
    np.testing.assert_allclose(zoom_in, 10 * coordinates[:, None] + coordinates, atol=1e-4)
    zoom_out = RandomZoom((1.0, 1.0))(torch.arange(25.0).reshape(1, 5, 5, 1), training=True)
    columns = [1, 0, 2, 4, 3]  # input 2x - 2 for x in 0..4, reflected at the edges
    np.testing.assert_allclose(zoom_out[0, ..., 0].numpy(),
                               np.arange(25.0).reshape(5, 5)[columns][:, columns], atol=1e-4)
    width_only = RandomZoom(0.0, width_factor=(-0.5, -0.5))(image, training=True)[0, ..., 0]
    np.testing.assert_allclose(width_only.numpy(), 10 * np.arange(4.0)[:, None] + coordinates,
                               atol=1e-4)


def test_contrast_formula_per_image_and_channel():
    images = torch.rand(200, 5, 6, 3) * 50 + 100
    out = RandomContrast((0.2, 0.5), seed=0)(images, training=True)
    mean = images.mean(dim=(1, 2), keepdim=True)
    torch.testing.assert_close(out.mean(dim=(1, 2), keepdim=True), mean, rtol=1e-5, atol=1e-3)
    factor = (out.std(dim=(1, 2)) / images.std(dim=(1, 2)))[:, 0, None, None, None]
    torch.testing.assert_close(out, (images - mean) * factor + mean, rtol=1e-5, atol=1e-3)
    assert float(factor.min()) >= 0.8 - 1e-4 and float(factor.max()) <= 1.5 + 1e-4
    assert float(factor.min()) < 0.85 and float(factor.max()) > 1.45
    clipped = RandomContrast(1.0, value_range=(0, 1), seed=0)(torch.rand(20, 4, 4, 3) * 2 - 0.5,
                                                              training=True)
    assert float(clipped.min()) >= 0.0 and float(clipped.max()) <= 1.0


def test_brightness_adds_a_fraction_of_the_value_range():
    images = torch.rand(2, 4, 4, 3) * 100
    out = RandomBrightness((0.1, 0.1))(images, training=True)
    torch.testing.assert_close(out, images + 25.5)
    saturated = RandomBrightness((0.5, 0.5), value_range=(0, 1))(torch.full((1, 2, 2, 1), 0.8),
                                                                 training=True)
    np.testing.assert_array_equal(saturated.numpy(), 1.0)
    deltas = (RandomBrightness(0.2, seed=0)(torch.full((2000, 1, 1, 1), 127.5), training=True)
              - 127.5).flatten()
    assert abs(float(deltas.mean())) < 2.0
    assert -51.0 - 1e-3 <= float(deltas.min()) < -49.0 and 49.0 < float(deltas.max()) <= 51.0


def test_random_crop_takes_windows_with_varied_offsets():
    images = (100 * torch.arange(64)[:, None, None] + 10 * torch.arange(6)[:, None]
              + torch.arange(7)).float()[..., None]
    out = RandomCrop(3, 4, seed=0)(images, training=True)
    assert out.shape == (64, 3, 4, 1)
    tops = (out[:, 0, 0, 0] % 100 // 10).long()
    lefts = (out[:, 0, 0, 0] % 10).long()
    for index in range(64):
        window = images[index, tops[index]:tops[index] + 3, lefts[index]:lefts[index] + 4]
        torch.testing.assert_close(out[index], window)
    assert set(tops.tolist()) == {0, 1, 2, 3} and set(lefts.tolist()) == {0, 1, 2, 3}


def test_random_crop_resizes_at_inference_and_for_small_images():
    images = torch.rand(2, 6, 8, 3)
    expected = Resizing(3, 3, crop_to_aspect_ratio=True)(images)
    torch.testing.assert_close(RandomCrop(3, 3)(images), expected)
    small = torch.rand(2, 2, 2, 3)
    torch.testing.assert_close(RandomCrop(4, 4)(small, training=True), Resizing(4, 4)(small))


def test_random_height_and_width_resize_the_batch():
    images = torch.rand(2, 10, 8, 3)
    taller = RandomHeight((0.5, 0.5))(images, training=True)
    torch.testing.assert_close(taller, Resizing(15, 8)(images))
    narrower = RandomWidth((-0.5, -0.5), interpolation="nearest")(images[0], training=True)
    torch.testing.assert_close(narrower, Resizing(10, 4, interpolation="nearest")(images[0]))
    layer = RandomHeight(0.3, seed=0)
    heights = {layer(images, training=True).shape[1] for _ in range(40)}
    assert min(heights) >= 7 and max(heights) <= 13 and len(heights) >= 4
    assert layer.compute_output_shape((None, 10, 8, 3)) == (None, None, 8, 3)
    assert RandomWidth(0.3).compute_output_shape((10, 8, 3)) == (10, None, 3)
    clone = RandomWidth.from_config(RandomWidth(0.3, seed=2).get_config())
    assert clone.get_config()["factor"] == 0.3 and clone.seed == 2


@pytest.mark.parametrize("make_layer, output_shape", [
    (lambda: RandomFlip("vertical", seed=3), (2, 6, 7, 3)),
    (lambda: RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=1.0), (2, 6, 7, 3)),
    (lambda: RandomZoom(0.2, (-0.1, 0.3), interpolation="nearest"), (2, 6, 7, 3)),
    (lambda: RandomTranslation(0.1, [0.0, 0.2], fill_mode="wrap"), (2, 6, 7, 3)),
    (lambda: RandomCrop(4, 5, seed=1), (2, 4, 5, 3)),
    (lambda: RandomContrast((0.1, 0.4), value_range=(0, 1)), (2, 6, 7, 3)),
    (lambda: RandomBrightness(0.2, value_range=[-1, 1]), (2, 6, 7, 3)),
])
def test_layer_contract(make_layer, output_shape):
    check_layer_contract(make_layer, (2, 6, 7, 3), output_shape)


@pytest.mark.parametrize("make_layer, argument", [
    (lambda: RandomFlip("diagonal"), "mode"),
    (lambda: RandomFlip(seed=-1), "seed"),
    (lambda: RandomRotation((0.3, 0.1)), "factor"),
    (lambda: RandomRotation(-0.1), "factor"),
    (lambda: RandomRotation(0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: RandomRotation(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: RandomZoom((-1.5, 0.0)), "height_factor"),
    (lambda: RandomZoom(0.1, width_factor="x"), "width_factor"),
    (lambda: RandomTranslation(1.5, 0.0), "height_factor"),
    (lambda: RandomTranslation(0.1, (0.1, 0.2, 0.3)), "width_factor"),
    (lambda: RandomCrop(0, 3), "height"),
    (lambda: RandomHeight((-2.0, 0.0)), "factor"),
    (lambda: RandomWidth(0.1, interpolation="cubic"), "interpolation"),
    (lambda: RandomContrast(1.5), "factor"),
    (lambda: RandomContrast(0.1, value_range=(1, 0)), "value_range"),
    (lambda: RandomBrightness((-1.5, 0.0)), "factor"),
    (lambda: RandomBrightness(0.1, value_range=(0,)), "value_range"),
])
def test_bad_arguments_name_the_argument(make_layer, argument):
    with pytest.raises(ValueError, match=argument):
        make_layer()


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="channels-last images"):
        RandomFlip()(torch.ones(4, 4))


def test_augmentation_model_trains_and_is_inactive_at_inference():
    images = torch.rand(16, 8, 8, 3)
    labels = torch.arange(16) % 3
    augmentation = kiln.Sequential([
        RandomFlip("horizontal", seed=42), RandomRotation(0.05, seed=42),
        RandomZoom(0.1, seed=42), RandomTranslation(0.1, 0.1, seed=42),
        RandomContrast(0.2, value_range=(0, 1), seed=42),
        RandomBrightness(0.1, value_range=(0, 1), seed=42),
    ])
    model = kiln.Sequential([kiln.layers.Input(shape=[8, 8, 3]), augmentation,
                             kiln.layers.Flatten(), kiln.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(images, labels, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()))
    torch.testing.assert_close(augmentation(images), images)
    assert not torch.allclose(augmentation(images, training=True), images)


def test_augmentation_in_dataset_map_matches_direct_calls():
    images = torch.rand(6, 8, 8, 3)
    mapped = kiln.data.Dataset.from_tensor_slices(images).map(
        lambda x: RandomRotation(0.2, seed=5)(x, training=True))
    expected = [RandomRotation(0.2, seed=5)(image, training=True) for image in images]
    for got, want in zip(mapped, expected):
        torch.testing.assert_close(got, want)
    flip = RandomFlip(seed=9)
    batches = kiln.data.Dataset.from_tensor_slices(images).batch(3).map(
        lambda x: flip(x, training=True))
    assert [tuple(b.shape) for b in batches] == [(3, 8, 8, 3), (3, 8, 8, 3)]


def test_preprocessing_and_augmentation_are_saved_with_the_model(tmp_path):
    model = kiln.Sequential([
        kiln.layers.Input(shape=[8, 8, 3]), Resizing(6, 6), kiln.layers.Rescaling(1 / 255),
        RandomRotation((-0.1, 0.2), fill_mode="constant", seed=3), RandomCrop(4, 4),
        RandomContrast((0.1, 0.2), value_range=(0, 1)), kiln.layers.Flatten(),
        kiln.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    loaded = kiln.models.load_model(tmp_path / "model.keras")
    for mine, theirs in zip(model.layers, loaded.layers):
        assert type(mine) is type(theirs) and mine.get_config() == theirs.get_config()
    images = torch.rand(2, 8, 8, 3) * 255
    torch.testing.assert_close(loaded(images), model(images))
