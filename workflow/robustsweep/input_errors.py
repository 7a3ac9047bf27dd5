"""Errors caused by the user's inputs (config, data, files on disk), not by bugs.

Each is raised with one line that names the problem and the fix; the CLI prints that line
instead of a traceback. Anything else is a bug and keeps its traceback.
"""


class InputError(RuntimeError):
    """Base class of problems a user can fix in their config or files."""


class ConfigError(InputError, ValueError):
    """A config problem: which key, what is wrong, what is allowed."""


class StoreError(InputError):
    """An adversarial store that is missing, incomplete, corrupt or not the one asked for."""


class WeightsError(InputError):
    """A weights file that is truncated, corrupt or not written by robustsweep."""


class FileCheckError(InputError):
    """A file a job needs that is missing, damaged, or made for another job or study."""


class ImageFileError(InputError):
    """An image file that cannot be decoded (truncated, not an image), named by its path."""
