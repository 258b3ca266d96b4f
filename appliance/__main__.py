"""Allows `python -m appliance` where the console script is not on PATH."""

from appliance.cli import main

raise SystemExit(main())
