"""``python -m osint``: the command line, as the ``osint`` script runs it."""

import sys

from osint.cli import main

sys.exit(main())
