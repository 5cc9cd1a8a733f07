# The native extension module inside the package. Its public names are the package's own
# (`inforge/__init__.py` re-exports them), so its stubs are the package's stubs.
from inforge import *
from inforge import __all__ as __all__
