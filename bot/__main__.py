"""``python -m bot`` runs the ``ldh-bot`` command."""

import sys

from bot.cli import main

sys.exit(main())
