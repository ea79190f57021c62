"""``python3 -m cellpipe_runner <task.json>`` (the zipapp has its own __main__ calling the same)."""

import sys

from cellpipe_runner.main import main

sys.exit(main())
