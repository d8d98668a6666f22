"""``python -m fastbp``: the same commands as the ``fastbp`` console script."""
import sys

from fastbp.cli import main

sys.exit(main())
