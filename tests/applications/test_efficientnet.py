"""Tests for kiln.applications.efficientnet: Keras' parameter counts of B0 to B7 (compound
scaling), layer names, drop-connect and squeeze-and-excitation, the input normalization with
ImageNet weights, shapes, a forward pass and argument errors."""

import numpy as np
import pytest
from application_checks import check_bad_arguments, check_probabilities, pixels
from meta_checks import check_headless_shapes, meta_model, parameter_count

import kiln
from kiln.applications import efficientnet, imagenet_utils, pretrained
from kiln.applications.efficientnet import (
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
    EfficientNetB4,
    EfficientNetB5,
    EfficientNetB6,
    EfficientNetB7,
    round_filters,
    round_repeats,
)

# Keras' counts with the 1,000-class top (the normalization's 7 statistics included), the
# default input size and the last block (B0's seventh stage has 1 block, scaled by the depth).
VARIANTS = {EfficientNetB0: (5_330_571, 224, "block7a"),
            EfficientNetB1: (7_856_239, 240, "block7b"),
            EfficientNetB2: (9_177_569, 260, "block7b"),
            EfficientNetB3: (12_320_535, 300, "block7b"),
            EfficientNetB4: (19_466_823, 380, "block7b"),
            EfficientNetB5: (30_562_527, 456, "block7c"),
            EfficientNetB6: (43_265_143, 528, "block7c"),
            EfficientNetB7: (66_658_687, 600, "block7d")}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


@pytest.mark.parametrize("build", list(VARIANTS), ids=lambda f: f.__name__)
def test_keras_parameter_counts_input_sizes_and_depths(build):
    count, size, last_block = VARIANTS[build]
    model = meta_model(build)
    assert parameter_count(model) == count
    assert model.name == build.__name__.lower()
    assert model.input_shape == (None, size, size, 3)
    names = {layer.name for layer in model.layers}
    assert f"{last_block}_project_bn" in names
    assert f"{last_block[:-1]}{chr(ord(last_block[-1]) + 1)}_project_bn" not in names
    assert build.__name__ in build.__doc__ and f"{size}x{size}" in build.__doc__


def test_b0_layer_names_squeeze_excitation_and_drop_connect():
    model = meta_model(EfficientNetB0)
    names = [layer.name for layer in model.layers]
    assert names[:11] == ["input_1", "rescaling", "normalization", "stem_conv_pad", "stem_conv",
                          "stem_bn", "stem_activation", "block1a_dwconv", "block1a_bn",
                          "block1a_activation", "block1a_se_squeeze"]
    assert names[-6:] == ["top_conv", "top_bn", "top_activation", "avg_pool", "top_dropout",
                          "predictions"]
    normalization = model.get_layer("normalization")
    assert [tuple(w.shape) for w in normalization.weights] == [(3,), (3,), ()]
    assert not normalization.trainable_weights
    # Squeeze to a quarter of the block's input filters, excite back to the expanded filters.
    assert model.get_layer("block2a_se_reduce").filters == 4
    assert model.get_layer("block2a_se_expand").filters == 16 * 6
    # Drop-connect grows linearly over the 16 blocks: block2b is the third, block6d the 15th.
    assert model.get_layer("block2b_drop").rate == pytest.approx(0.2 * 2 / 16)
    assert model.get_layer("block6d_drop").rate == pytest.approx(0.2 * 14 / 16)
    assert model.get_layer("block6d_drop").noise_shape == (None, 1, 1, 1)
    assert "block1a_add" not in names and "block2a_add" not in names
    assert model.get_layer("top_dropout").rate == 0.2


def test_compound_scaling_rounds_filters_and_repeats():
    assert [round_filters(32, w) for w in (1.0, 1.1, 1.2, 1.4, 2.0)] == [32, 32, 40, 48, 64]
    assert round_filters(1280, 2.0) == 2560 and round_filters(16, 1.8) == 32
    assert [round_repeats(r, 1.4) for r in (1, 2, 3, 4)] == [2, 3, 5, 6]
    assert round_repeats(1, 3.1) == 4
    model = meta_model(EfficientNetB7, include_top=False)
    assert model.get_layer("stem_conv").filters == 64
    assert model.get_layer("top_conv").filters == 2560


@pytest.mark.parametrize("build, channels", [(EfficientNetB0, 1280), (EfficientNetB3, 1536)],
                         ids=["B0", "B3"])
def test_headless_output_shapes_on_a_non_default_size(build, channels):
    # TensorFlow's 'same' arithmetic through five stride-2 stages: ceil(100 / 32), 64 / 32.
    check_headless_shapes(build, (100, 64, 3), (4, 2, channels))


def test_forward_pass_gives_probabilities_at_the_minimum_size():
    check_probabilities(EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=4), 32)


def test_imagenet_weights_add_keras_rescaling_after_the_normalization(monkeypatch, tmp_path):
    """Keras' weights store the standard deviations as the normalization's variances; with
    weights="imagenet" a second Rescaling turns the input into (x / 255 - mean) / std."""
    monkeypatch.setenv("KILN_MODELS", str(tmp_path))
    kiln.utils.clear_session()
    base = EfficientNetB0(weights=None, include_top=False, input_shape=(32, 32, 3))
    base.get_layer("normalization").set_weights([IMAGENET_MEAN, IMAGENET_STD, np.array(1e6)])
    base.save_weights(pretrained.imagenet_weights_path("efficientnetb0", include_top=False))
    kiln.utils.clear_session()
    model = EfficientNetB0(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    stem = model.layers[1:4]
    assert [layer.name for layer in stem] == ["rescaling", "normalization", "rescaling_1"]
    assert parameter_count(model) == parameter_count(base)
    images = pixels(2, 32)
    x = images.astype("float32")
    for layer in stem:
        x = layer(x)
    np.testing.assert_allclose(x.numpy(), (images / 255 - IMAGENET_MEAN) / IMAGENET_STD,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("build", [EfficientNetB0, EfficientNetB7], ids=["B0", "B7"])
def test_bad_arguments_fail_before_any_layer_is_built(build, monkeypatch):
    check_bad_arguments(build, 32, monkeypatch)


def test_preprocess_input_is_the_identity():
    images = pixels()
    assert efficientnet.preprocess_input(images) is images
    assert efficientnet.decode_predictions is imagenet_utils.decode_predictions
