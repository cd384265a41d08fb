"""``python -m fake_artifactory serve ...``."""

import sys

from fake_artifactory.cli import main

sys.exit(main())
