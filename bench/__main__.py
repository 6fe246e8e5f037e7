"""``python -m bench``: run the benchmark suite (see ``bench/README.md``)."""

import sys

from .cli import main

sys.exit(main())
