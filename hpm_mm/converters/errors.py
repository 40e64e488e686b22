"""The one error type of checkpoint conversion and loading."""


class CheckpointError(ValueError):
    """A checkpoint cannot be read, recognised or converted.

    The message is a single line that names the file or the offending keys,
    so command-line tools can print it as is.
    """
