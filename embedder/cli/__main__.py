"""`python -m embedder.cli`: the same as `embedder` (and `python -m embedder`)."""

import sys

from embedder.cli import main

sys.exit(main())
