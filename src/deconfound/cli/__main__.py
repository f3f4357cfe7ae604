"""``python -m deconfound.cli``: the same as the ``deconfound`` command."""

import sys

from .app import main

sys.exit(main())
