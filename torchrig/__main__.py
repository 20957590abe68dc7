"""``python -m torchrig`` runs the command line."""

from torchrig.cli.main import main

raise SystemExit(main())
