"""`python -m agents` is the `agents` command."""

import sys

from .cli import main

sys.exit(main())
