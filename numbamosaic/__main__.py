"""``python -m numbamosaic``: the same as the ``numbamosaic`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
