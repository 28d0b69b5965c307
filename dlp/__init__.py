"""Sekimori (関守): an egress DLP engine that counts the persons a transfer carries."""

__version__ = "0.1.0"
