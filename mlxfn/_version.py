"""The installed distribution's version: ``mlxfn.__version__`` and ``python -m mlxfn --version``."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlxfn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
