"""Reads event files back with TensorBoard's own reader, for the kiln.summary tests."""

from collections import namedtuple

import pytest

TagEvents = namedtuple("TagEvents", ["plugin", "steps", "values"])


@pytest.fixture
def read_events():
    """Returns a function reading a log folder into ``{tag: TagEvents(plugin, steps, values)}``.

    `values` are the written tensors as numpy arrays, in step order.
    """
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    def read(logdir):
        accumulator = event_accumulator.EventAccumulator(
            str(logdir), size_guidance={event_accumulator.TENSORS: 0})
        accumulator.Reload()
        result = {}
        for tag in accumulator.Tags()["tensors"]:
            events = accumulator.Tensors(tag)
            result[tag] = TagEvents(
                accumulator.SummaryMetadata(tag).plugin_data.plugin_name,
                [event.step for event in events],
                [tensor_util.make_ndarray(event.tensor_proto) for event in events])
        return result

    return read
