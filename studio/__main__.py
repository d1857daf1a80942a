"""`python -m studio`: the same entry point as the `studio` command."""

import sys

from studio.launcher import main

sys.exit(main())
