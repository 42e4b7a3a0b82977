"""``python -m matdiff``: the command line (``demo``, ``diff``, ``graph``)."""

from .cli import main

raise SystemExit(main())
