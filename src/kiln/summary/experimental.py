"""The default step of the summary functions (`tf.summary.experimental`).

Example:

>>> kiln.summary.experimental.set_step(10)
>>> with writer.as_default():
...     kiln.summary.scalar("loss", 0.5)  # written at step 10
"""

from kiln.summary.writer import get_step, set_step

__all__ = ["get_step", "set_step"]
