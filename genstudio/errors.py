"""The one error type for bad input: what a user did, told in their words.

Every check of a request, a file, a name or a config raises `UserError`; the UI and
the CLI show its message as it is. Any other exception is a bug: the UI logs its
traceback under an id and shows "internal error" with that id.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input: an invalid value, an unknown name, an unreadable file, a model not available."""


class UnknownModelError(UserError, KeyError):
    """No checkpoint by that name (a KeyError too, as a lookup by name)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelUnavailableError(UserError, RuntimeError):
    """The checkpoint exists but cannot be used (missing from the manifest, tampered, unreadable)."""
