"""Tests for kiln.applications.xception: Keras' parameter count, layer names and layer order (the
book's ``base_model.layers[56:]``), shapes, a forward pass, argument errors and the scaling."""

import numpy as np
import pytest
from application_checks import check_bad_arguments, check_probabilities, pixels
from meta_checks import check_headless_shapes, parameter_count

import kiln
from kiln.applications import imagenet_utils, xception
from kiln.applications.xception import Xception


@pytest.fixture(scope="module")
def model():
    """Xception with the top, at the smallest size (the count does not depend on the size)."""
    kiln.utils.clear_session()
    return Xception(weights=None, input_shape=(71, 71, 3))


def keras_layer_order(model):
    """The layers in the order Keras lists them: by decreasing depth (the longest path to the
    output), ties broken by the order a depth-first walk from the output first meets them."""
    depth, first_seen, post_order = {}, {}, []

    def walk(node):
        first_seen.setdefault(node.layer, len(first_seen))
        for tensor in node.input_tensors:
            if tensor.node not in post_order:
                walk(tensor.node)
        post_order.append(node)

    walk(model.outputs[0].node)
    for node in reversed(post_order):
        depth.setdefault(node, 0)
        for tensor in node.input_tensors:
            depth[tensor.node] = max(depth.get(tensor.node, 0), depth[node] + 1)
    layer_depth = {node.layer: depth[node] for node in post_order}
    return sorted(layer_depth, key=lambda layer: (-layer_depth[layer], first_seen[layer]))


def test_keras_parameter_count_and_layer_names(model):
    assert parameter_count(model) == 22_910_480
    assert model.name == "xception"
    names = [layer.name for layer in model.layers]
    assert len(names) == 134
    assert names[:12] == ["input_1", "block1_conv1", "block1_conv1_bn", "block1_conv1_act",
                          "block1_conv2", "block1_conv2_bn", "block1_conv2_act",
                          "block2_sepconv1", "block2_sepconv1_bn", "block2_sepconv2_act",
                          "block2_sepconv2", "block2_sepconv2_bn"]
    assert names[-5:] == ["block14_sepconv2", "block14_sepconv2_bn", "block14_sepconv2_act",
                          "avg_pool", "predictions"]
    # The shortcut layers are unnamed in Keras: a fresh session numbers them.
    assert {"conv2d", "conv2d_3", "batch_normalization_3", "add", "add_11"} <= set(names)
    assert "conv2d_4" not in names and "add_12" not in names
    assert model.get_layer("block4_sepconv1").get_weights()[0].shape == (3, 3, 256, 1)
    assert model.get_layer("conv2d_3").get_weights()[0].shape == (1, 1, 728, 1024)


def test_layer_order_matches_keras_at_every_block_boundary(model):
    ours = [layer.name for layer in model.layers]
    keras = [layer.name for layer in keras_layer_order(model)]
    assert ours[56] == keras[56] == "block7_sepconv1_act"  # the book's base_model.layers[56:]
    boundaries = [i + 1 for i, name in enumerate(keras) if name.startswith("add")]
    assert len(boundaries) == 12
    for boundary in boundaries:
        assert set(ours[:boundary]) == set(keras[:boundary])
    # Inside a downsampling block only the shortcut convolution and the pooling swap places.
    swapped = []
    for block, suffix in ((2, ""), (3, "_1"), (4, "_2"), (13, "_3")):
        swapped += [(f"block{block}_pool", f"conv2d{suffix}"),
                    (f"conv2d{suffix}", f"block{block}_pool")]
    assert [(a, b) for a, b in zip(ours, keras) if a != b] == swapped


def test_the_books_fine_tuning_unfreezes_the_top_layers_of_the_base():
    base_model = Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
    avg = kiln.layers.GlobalAveragePooling2D()(base_model.output)
    output = kiln.layers.Dense(5, activation="softmax")(avg)
    model = kiln.Model(inputs=base_model.input, outputs=output)
    for layer in base_model.layers:
        layer.trainable = False
    assert len(model.trainable_weights) == 2
    for layer in base_model.layers[56:]:
        layer.trainable = True
    unfrozen = sum(len(layer.trainable_weights) for layer in base_model.layers[56:])
    assert len(model.trainable_weights) == unfrozen + 2
    assert not base_model.get_layer("block6_sepconv3").trainable


def test_headless_output_shapes_on_a_non_default_size():
    # 100x80 -> 49x39 -> 47x37, then four 'same' stride-2 poolings: 24x19, 12x10, 6x5, 3x3.
    check_headless_shapes(Xception, (100, 80, 3), (3, 3, 2048))


def test_forward_pass_gives_probabilities_at_the_minimum_size(model):
    check_probabilities(model, 71)


def test_bad_arguments_fail_before_any_layer_is_built(monkeypatch):
    check_bad_arguments(Xception, 71, monkeypatch)


def test_preprocess_input_scales_to_minus_one_one():
    images = pixels()
    np.testing.assert_allclose(xception.preprocess_input(images), images / 127.5 - 1.0,
                               rtol=1e-6)
    assert xception.decode_predictions is imagenet_utils.decode_predictions
