"""User-facing errors.

Anything a user can cause (bad file, bad column, bad option) raises :class:`UserError`. The CLI prints its
message on one line and exits with :data:`EXIT_USER_ERROR`, without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error caused by the user's input; ``str(err)`` is the one-line message."""


class DataError(UserError):
    """A problem with a data file: the message names the file, and the row/column where known."""


class UnsupportedShape(UserError):
    """A target cannot run this network's shape (layout, task, outputs, inputs per step): raised by
    :func:`tinylstm.numerics.check_supported` before any work; ``tinylstm run`` skips that target with the line."""
