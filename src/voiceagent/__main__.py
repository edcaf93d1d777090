"""``python -m voiceagent``: the same as the ``voiceagent`` command."""

from .cli import main

raise SystemExit(main())
