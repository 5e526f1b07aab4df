"""Run the local tenant's commands: ``python -m qlik_tutorial.local_tenant``."""

from .cli import main

raise SystemExit(main())
