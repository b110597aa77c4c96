"""kiln.summary's scalar, histogram, image, text and audio, read back with TensorBoard's reader."""

import io
import wave

import numpy as np
import pytest
import torch

import kiln
import kiln.summary

pytest.importorskip("tensorboard")
from PIL import Image  # noqa: E402  (a dependency of tensorboard)


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


def decode_wav(data):
    with wave.open(io.BytesIO(data)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return wav.getframerate(), frames.reshape(-1, wav.getnchannels())


def test_the_books_summary_listing_runs_by_renaming_the_namespace(tmp_path, read_events):
    # The book's tf.summary listing with tf.summary -> kiln.summary and tf ops -> torch ops,
    # over 20 steps instead of 1000.
    test_logdir = tmp_path / "run_1"
    writer = kiln.summary.create_file_writer(str(test_logdir))
    with writer.as_default():
        for step in range(1, 20 + 1):
            kiln.summary.scalar("my_scalar", np.sin(step / 10), step=step)

            data = (np.random.randn(100) + 2) * step / 100  # gets larger
            kiln.summary.histogram("my_hist", data, buckets=50, step=step)

            images = np.random.rand(2, 32, 32, 3) * step / 1000  # gets brighter
            kiln.summary.image("my_images", images, step=step)

            texts = ["The step is " + str(step), "Its square is " + str(step ** 2)]
            kiln.summary.text("my_text", texts, step=step)

            sine_wave = torch.sin(torch.arange(12000) / 48000 * 2 * np.pi * step)
            audio = torch.reshape(sine_wave.to(torch.float32), [1, -1, 1])
            kiln.summary.audio("my_audio", audio, sample_rate=48000, step=step)

    events = read_events(test_logdir)
    assert {tag: events[tag].plugin for tag in events} == {
        "my_scalar": "scalars", "my_hist": "histograms", "my_images": "images",
        "my_text": "text", "my_audio": "audio"}
    steps = list(range(1, 21))
    assert all(events[tag].steps == steps for tag in events)
    np.testing.assert_allclose([v for v in events["my_scalar"].values],
                               np.sin(np.array(steps) / 10), rtol=1e-6)
    assert all(h.shape == (50, 3) and h[:, 2].sum() == 100 for h in events["my_hist"].values)
    brightness = [decode_png(v[2]).mean() for v in events["my_images"].values]
    assert brightness[-1] > brightness[0]
    assert [s.decode() for s in events["my_text"].values[-1]] == [
        "The step is 20", "Its square is 400"]
    rate, frames = decode_wav(events["my_audio"].values[-1][0, 0])
    expected = np.round(np.sin(np.arange(12000) / 48000 * 2 * np.pi * 20) * 32768)
    assert rate == 48000 and frames.shape == (12000, 1)
    np.testing.assert_allclose(frames[:, 0], np.clip(expected, -32768, 32767), atol=1)


def test_scalar_accepts_python_numpy_and_torch_numbers(tmp_path, read_events):
    with kiln.summary.create_file_writer(tmp_path).as_default():
        for step, value in enumerate([1, 2.5, np.float64(-3.25), torch.tensor(0.125), True]):
            assert kiln.summary.scalar("value", value, step=step) is True
    events = read_events(tmp_path)["value"]
    assert events.steps == [0, 1, 2, 3, 4]
    assert [float(v) for v in events.values] == [1.0, 2.5, -3.25, 0.125, 1.0]
    assert all(v.dtype == np.float32 and v.shape == () for v in events.values)


def test_histogram_buckets_match_numpy(tmp_path, read_events):
    data = np.random.default_rng(0).normal(size=(40, 25))
    with kiln.summary.create_file_writer(tmp_path).as_default(step=7):
        kiln.summary.histogram("numpy", data, buckets=12)
        kiln.summary.histogram("torch", torch.from_numpy(data).float())
        kiln.summary.histogram("with_nan", [1.0, 2.0, float("nan"), 3.0, float("inf")], buckets=2)
        kiln.summary.histogram("constant", np.full(5, 4.0), buckets=3)
        kiln.summary.histogram("empty", np.zeros(0), buckets=4)
        kiln.summary.histogram("integers", torch.tensor([0, 1, 1, 2, 3]), buckets=3)
    events = read_events(tmp_path)
    counts, edges = np.histogram(data, bins=12)
    buckets = events["numpy"].values[0]
    np.testing.assert_array_equal(buckets[:, 2], counts)
    np.testing.assert_allclose(buckets[:, 0], edges[:-1])
    np.testing.assert_allclose(buckets[:, 1], edges[1:])
    torch_buckets = events["torch"].values[0]
    assert torch_buckets.shape == (30, 3)  # TensorFlow's default bucket count
    np.testing.assert_array_equal(torch_buckets[:, 2], np.histogram(data.astype(np.float32),
                                                                    bins=30)[0])
    np.testing.assert_array_equal(events["with_nan"].values[0],
                                  [[1.0, 2.0, 1.0], [2.0, 3.0, 2.0]])
    np.testing.assert_array_equal(events["constant"].values[0],
                                  [[4.0, 4.0, 0.0], [4.0, 4.0, 0.0], [4.0, 4.0, 5.0]])
    np.testing.assert_array_equal(events["empty"].values[0], np.zeros((4, 3)))
    np.testing.assert_array_equal(events["integers"].values[0][:, 2], [1, 2, 2])
    assert events["numpy"].steps == [7]


def test_image_converts_floats_like_tensorflow_and_keeps_max_outputs(tmp_path, read_events):
    floats = np.array([0.0, 0.5, 1.0, 2.0, -1.0, 0.25]).reshape(1, 2, 3, 1)
    rgba = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    with kiln.summary.create_file_writer(tmp_path).as_default(step=1):
        kiln.summary.image("gray", floats)
        kiln.summary.image("rgba", torch.from_numpy(rgba), max_outputs=1)
        kiln.summary.image("listed", [torch.zeros(5, 6, 3), torch.ones(5, 6, 3)])
    events = read_events(tmp_path)
    width, height, picture = events["gray"].values[0]
    assert (width, height) == (b"3", b"2")
    # x 255.5 then clipped and truncated, as tf.image.convert_image_dtype(saturate=True)
    np.testing.assert_array_equal(decode_png(picture), [[0, 127, 255], [255, 0, 63]])
    rgba_values = events["rgba"].values[0]
    assert len(rgba_values) == 3  # width, height and one image: max_outputs=1
    np.testing.assert_array_equal(decode_png(rgba_values[2]), rgba[0])
    listed = events["listed"].values[0]
    assert listed[:2].tolist() == [b"6", b"5"]
    assert decode_png(listed[2]).max() == 0 and decode_png(listed[3]).min() == 255


def test_text_accepts_a_string_and_nested_lists(tmp_path, read_events):
    with kiln.summary.create_file_writer(tmp_path).as_default(step=3):
        kiln.summary.text("single", "**bold** é")
        kiln.summary.text("table", [["a", "b"], ["c", "d"]])
    events = read_events(tmp_path)
    assert events["single"].values[0].shape == ()
    assert events["single"].values[0].item().decode() == "**bold** é"
    assert events["table"].values[0].shape == (2, 2)
    assert events["table"].values[0][1, 0] == b"c"


def test_audio_encodes_16_bit_wav_clips_with_their_channels(tmp_path, read_events):
    clips = np.array([[[0.0, 1.0], [0.5, -1.0], [2.0, -0.25]],
                      [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
                      [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]], dtype=np.float32)
    with kiln.summary.create_file_writer(tmp_path).as_default(step=0):
        kiln.summary.audio("clips", clips, sample_rate=8000, max_outputs=2)
    value = read_events(tmp_path)["clips"].values[0]
    assert value.shape == (2, 2)  # two clips of (WAV bytes, label)
    rate, frames = decode_wav(value[0, 0])
    assert rate == 8000
    np.testing.assert_array_equal(frames, [[0, 32767], [16384, -32768], [32767, -8192]])
    np.testing.assert_array_equal(decode_wav(value[1, 0])[1],
                                  np.round(clips[1].astype(np.float64) * 32768))
    assert value[0, 1] == b""


@pytest.mark.parametrize("call, message", [
    (lambda: kiln.summary.scalar("s", [1.0, 2.0], step=0), "single real number"),
    (lambda: kiln.summary.scalar("s", "high", step=0), "single real number"),
    (lambda: kiln.summary.scalar("", 1.0, step=0), "`name`"),
    (lambda: kiln.summary.histogram("h", [1.0], step=0, buckets=0), "`buckets`"),
    (lambda: kiln.summary.histogram("h", ["a"], step=0), "real numbers"),
    (lambda: kiln.summary.image("i", np.zeros((4, 4, 3)), step=0), r"\(N, H, W, C\)"),
    (lambda: kiln.summary.image("i", np.zeros((1, 4, 4, 5)), step=0), r"\(N, H, W, C\)"),
    (lambda: kiln.summary.image("i", np.zeros((1, 4, 4, 3), np.int32), step=0), "uint8"),
    (lambda: kiln.summary.image("i", np.zeros((1, 4, 4, 3)), step=0, max_outputs=-1),
     "`max_outputs`"),
    (lambda: kiln.summary.text("t", 3, step=0), "str"),
    (lambda: kiln.summary.audio("a", np.zeros((10, 1)), 8000, step=0), "frames"),
    (lambda: kiln.summary.audio("a", np.zeros((1, 10, 1)), 0, step=0), "`sample_rate`"),
    (lambda: kiln.summary.audio("a", np.zeros((1, 10, 1)), 8000, step=0, encoding="mp3"),
     "`encoding`"),
])
def test_bad_data_raises_value_errors_naming_the_argument(tmp_path, call, message):
    with kiln.summary.create_file_writer(tmp_path).as_default():
        with pytest.raises(ValueError, match=message):
            call()
