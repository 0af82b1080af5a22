"""`llmops-nb` on the command line: one module per command (`llmops_nb.cli.<command>`), dispatched by `llmops_nb.cli.main`.

Hand-written (nbdev creates this file empty and keeps it); `from llmops_nb.cli import main` stays a working import."""
from .main import main

__all__ = ["main"]
