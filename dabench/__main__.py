"""``python -m dabench`` is the ``dabench`` command."""

import sys

from dabench.cli import main

if __name__ == "__main__":
    sys.exit(main())
