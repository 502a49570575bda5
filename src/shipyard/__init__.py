"""Shipyard: Debian machine images from a YAML manifest, booted, published and served."""

__version__ = "0.1.0"
