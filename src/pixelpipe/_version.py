"""The package's version, in a module of its own: the engine stamps it on every result
(``engine_version``) without importing the package root above it; hatch reads it from here."""

__version__ = "0.1.0"
