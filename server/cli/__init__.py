"""``modelab``: the command line (``commands``), its analysis commands and the options they share.

``main`` is the console entry point (``modelab = "server.cli:main"``); ``python -m server.cli`` runs it too.
"""

from .commands import main

__all__ = ["main"]
