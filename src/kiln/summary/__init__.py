"""TensorBoard logs without TensorFlow: `tf.summary`'s writer and summary functions.

The event files are the real format, written with the `tensorboard` package's own writer and
protos (install the extra: ``pip install 'kiln[tensorboard]'``), so `tensorboard --logdir`
shows them, TensorFlow reads them, and the book's `tf.summary` code runs by renaming the
namespace. The `tensorboard` package is imported on first use, not by `import kiln`.

Example:

>>> writer = kiln.summary.create_file_writer("my_logs/run_1")
>>> with writer.as_default():
...     for step in range(1, 1001):
...         kiln.summary.scalar("my_scalar", np.sin(step / 10), step=step)
...         data = (np.random.randn(100) + 2) * step / 100  # gets larger
...         kiln.summary.histogram("my_hist", data, buckets=50, step=step)
"""

from kiln.summary import experimental
from kiln.summary.ops import audio, histogram, image, scalar, text
from kiln.summary.writer import SummaryWriter, create_file_writer, flush

__all__ = ["SummaryWriter", "audio", "create_file_writer", "experimental", "flush", "histogram",
           "image", "scalar", "text"]
