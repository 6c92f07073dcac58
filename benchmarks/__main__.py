"""Entry point for ``python benchmarks/__main__.py`` and ``numbamosaic bench``: see run_all.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run_all import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
