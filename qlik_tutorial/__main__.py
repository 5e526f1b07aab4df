"""Run the command-line interface: ``python -m qlik_tutorial``."""

from .cli import main

raise SystemExit(main())
