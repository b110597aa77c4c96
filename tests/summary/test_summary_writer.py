"""kiln.summary's writers: the default writer and step, flushing, closing, the lazy import."""

import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import kiln
import kiln.summary
from kiln.summary import _tensorboard

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import event_file_loader  # noqa: E402


def test_without_a_default_writer_summaries_return_false():
    assert kiln.summary.scalar("loss", 1.0, step=0) is False
    assert kiln.summary.histogram("weights", [1.0, 2.0], step=0) is False
    assert kiln.summary.image("images", np.zeros((1, 2, 2, 1)), step=0) is False
    assert kiln.summary.text("notes", "hello", step=0) is False
    assert kiln.summary.audio("clip", np.zeros((1, 4, 1)), 8000, step=0) is False
    kiln.summary.flush()  # nothing to flush: no error


def test_the_event_file_is_named_and_versioned_like_tensorflows(tmp_path):
    writer = kiln.summary.create_file_writer(tmp_path / "run")
    writer.close()
    (event_file,) = (tmp_path / "run").iterdir()
    assert event_file.name.startswith("events.out.tfevents.") and event_file.name.endswith(".v2")
    first = next(iter(event_file_loader.EventFileLoader(str(event_file)).Load()))
    assert first.file_version == "brain.Event:2"


def test_as_default_sets_and_restores_the_writer_and_step(tmp_path, read_events):
    outer = kiln.summary.create_file_writer(tmp_path / "outer")
    inner = kiln.summary.create_file_writer(tmp_path / "inner")
    with outer.as_default(step=5):
        kiln.summary.scalar("a", 1.0)
        with inner.as_default(step=torch.tensor(9)):
            kiln.summary.scalar("b", 2.0)
            kiln.summary.scalar("c", 3.0, step=np.int64(11))
        kiln.summary.scalar("a", 4.0)  # back to the outer writer and step
        with inner.as_default():  # no step given: the step is kept
            kiln.summary.scalar("d", 5.0)
    assert kiln.summary.scalar("a", 6.0, step=0) is False
    assert kiln.summary.experimental.get_step() is None
    outer_events, inner_events = read_events(tmp_path / "outer"), read_events(tmp_path / "inner")
    assert outer_events["a"].steps == [5, 5]
    assert [float(v) for v in outer_events["a"].values] == [1.0, 4.0]
    assert (inner_events["b"].steps, inner_events["c"].steps, inner_events["d"].steps) == (
        [9], [11], [5])


def test_set_as_default_and_experimental_set_step(tmp_path, read_events):
    writer = kiln.summary.create_file_writer(tmp_path)
    try:
        writer.set_as_default(step=2)
        kiln.summary.scalar("x", 1.0)
        kiln.summary.experimental.set_step(3)
        assert kiln.summary.experimental.get_step() == 3
        kiln.summary.scalar("x", 2.0)
        kiln.summary.flush()
        assert read_events(tmp_path)["x"].steps == [2, 3]
    finally:
        kiln.summary.writer.set_step(None)
        kiln.summary.writer._context.writer = None


def test_the_default_writer_belongs_to_one_thread(tmp_path):
    results = []
    with kiln.summary.create_file_writer(tmp_path).as_default(step=0):
        thread = threading.Thread(target=lambda: results.append(kiln.summary.scalar("x", 1.0)))
        thread.start()
        thread.join()
        assert kiln.summary.scalar("x", 1.0) is True
    assert results == [False]


def test_a_missing_step_or_a_bad_step_raises(tmp_path):
    with kiln.summary.create_file_writer(tmp_path).as_default():
        with pytest.raises(ValueError, match="No step set"):
            kiln.summary.scalar("x", 1.0)
        with pytest.raises(ValueError, match="`step` must be an integer, but received 1.5"):
            kiln.summary.scalar("x", 1.0, step=1.5)
        with pytest.raises(ValueError, match="`step` must be an integer"):
            kiln.summary.scalar("x", 1.0, step=torch.tensor(2.0))
    with pytest.raises(ValueError, match="`logdir` must be a path"):
        kiln.summary.create_file_writer(42)
    with pytest.raises(ValueError, match="`max_queue`"):
        kiln.summary.create_file_writer(tmp_path, max_queue=0)


def test_a_closed_writer_refuses_writes_and_close_is_idempotent(tmp_path, read_events):
    writer = kiln.summary.create_file_writer(tmp_path)
    with writer.as_default(step=1):
        kiln.summary.scalar("x", 1.0)
    writer.close()
    writer.close()
    writer.flush()
    assert writer.closed and "closed" in repr(writer)
    with writer.as_default(step=2):
        with pytest.raises(RuntimeError, match="is closed"):
            kiln.summary.scalar("x", 2.0)
    assert read_events(tmp_path)["x"].steps == [1]


def test_events_queued_by_an_unclosed_writer_reach_the_file_at_exit(tmp_path, read_events):
    script = ("import kiln.summary; w = kiln.summary.create_file_writer(r'%s', flush_millis=1e9)\n"
              "w.set_as_default(step=0)\n"
              "for i in range(50): kiln.summary.scalar('x', float(i), step=i)\n" % tmp_path)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert read_events(tmp_path)["x"].steps == list(range(50))


def test_a_missing_tensorboard_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(ImportError, match=r"kiln\[tensorboard\]"):
        _tensorboard.tensorboard_modules.__wrapped__()


def test_importing_kiln_summary_does_not_import_tensorboard():
    code = ("import sys, kiln, kiln.summary, kiln.callbacks.tensorboard; "
            "print(any(m.startswith('tensorboard') for m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True, timeout=60).stdout
    assert output.strip() == "False"
