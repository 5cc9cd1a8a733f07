"""inforge for Python deploy scripts (the native module's names, re-exported)."""

from .inforge import *  # noqa: F401,F403
from . import inforge as _native

__doc__ = _native.__doc__
__all__ = _native.__all__
