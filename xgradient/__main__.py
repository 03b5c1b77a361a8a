"""``python -m xgradient``: see :mod:`xgradient.cli`."""

import sys

from .cli import main

sys.exit(main())
