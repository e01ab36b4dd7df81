"""serving-kit: measures what model-serving frameworks really cost."""

__version__ = "0.1.0"
