"""`python -m unmask ...` is the `unmask` command (also what `accelerate launch -m unmask` and `torchrun -m unmask` run)."""

import sys

from unmask.cli import main

sys.exit(main())
