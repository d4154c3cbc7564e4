"""The package version (its own module so that the report can name it without importing the package facade)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
