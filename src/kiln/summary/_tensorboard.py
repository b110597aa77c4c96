"""The lazy import of the `tensorboard` package, which kiln writes event files with.

TensorBoard is an optional dependency: `import kiln` never imports it, and the first summary
writer imports it, or raises an ImportError that says which extra to install.
"""

import functools
import types


@functools.cache
def tensorboard_modules():
    """Returns the `tensorboard` modules kiln needs, as a namespace, importing them once.

    Raises:
        ImportError: when the `tensorboard` package is not installed.
    """
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.audio import metadata as audio_metadata
        from tensorboard.plugins.histogram import metadata as histogram_metadata
        from tensorboard.plugins.image import metadata as image_metadata
        from tensorboard.plugins.scalar import metadata as scalar_metadata
        from tensorboard.plugins.text import metadata as text_metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
        from PIL import Image  # Pillow, a dependency of tensorboard: encodes image summaries
    except ImportError as error:
        raise ImportError(
            "Writing TensorBoard logs needs the `tensorboard` package (TensorFlow is not "
            "needed): pip install 'kiln[tensorboard]' (or pip install tensorboard)."
        ) from error
    return types.SimpleNamespace(
        Image=Image,
        EventFileWriter=EventFileWriter,
        event_pb2=event_pb2,
        summary_pb2=summary_pb2,
        tensor_util=tensor_util,
        audio_metadata=audio_metadata,
        histogram_metadata=histogram_metadata,
        image_metadata=image_metadata,
        scalar_metadata=scalar_metadata,
        text_metadata=text_metadata,
    )
