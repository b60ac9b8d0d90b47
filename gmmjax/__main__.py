"""``python -m gmmjax``: the same command line as ``gmmjax``."""

from gmmjax.cli import main

raise SystemExit(main())
