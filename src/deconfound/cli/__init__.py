"""The ``deconfound`` command: ``main`` parses the arguments and runs one command (see ``app.py``)."""

from .app import main

__all__ = ["main"]
