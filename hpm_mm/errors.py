"""Errors of a user's input that the tools report in one line."""


class ConfigError(ValueError):
    """A config entry that cannot work.

    The message is one line that starts with the entry's key
    (``model.masker.alpha_max: expected a number, got 'abc'``) or with the
    file and line of the config. Raised by the pre-flight checks of
    :mod:`hpm_mm.cli` and by model constructors that find config entries
    which do not fit together (e.g. an encoder and a decoder of different
    widths); the tools print its message as it is.
    """
