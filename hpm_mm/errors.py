"""Errors of a user's input that the tools report in one line."""


class ConfigError(ValueError):
    """Config entries that cannot work together (e.g. an encoder and a
    decoder of different widths); the message names them, on one line."""
