"""CloudAI: run containerised tasks on a cluster of workers."""

__version__ = "0.1.0"
