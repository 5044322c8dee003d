"""`python -m benrl` runs the command line."""

import sys

from benrl.cli import main

sys.exit(main())
