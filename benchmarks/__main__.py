"""``python -m benchmarks``: run every benchmark and print one table (see ``run.py``)."""

from __future__ import annotations

from benchmarks.run import main

raise SystemExit(main())
