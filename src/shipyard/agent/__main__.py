"""``python3 -m shipyard.agent``."""

import sys

from .main import main

sys.exit(main())
