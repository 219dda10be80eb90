"""What the engine raises: a configuration it cannot plan, named so a person can fix it."""

from __future__ import annotations


class EngineError(Exception):
    """A configuration the engine cannot run; `constraint` names the part that fails (for the UI and tests)."""

    def __init__(self, message: str, constraint: str = "configuration"):
        super().__init__(message)
        self.message = message
        self.constraint = constraint


class Cancelled(Exception):
    """The run was cancelled while the engine worked (raised from the progress callback)."""
