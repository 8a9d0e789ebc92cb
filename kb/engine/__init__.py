"""Index engines behind one interface (``kb.engine.base``); Whoosh is the one engine today."""

from __future__ import annotations

__all__ = ["default_engine"]


def default_engine():
    """The engine kb writes and reads with (imported on first use: ``kb --help`` never loads it)."""
    from .whoosh import WhooshEngine

    return WhooshEngine()
