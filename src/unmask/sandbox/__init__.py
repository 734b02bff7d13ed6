"""The code-execution sandbox for generated programs (HumanEval, MBPP): `run_code`.

Each run is a bubblewrap sandbox (`isolation`) holding two processes (`_inside`): the program's, and a verifier
that runs the test and alone can report a pass. Without a working bubblewrap, code runs only when the user sets
UNMASK_ALLOW_UNSANDBOXED_CODE=1, and then without isolation. The README states what is and is not defended.
"""

from unmask.sandbox import isolation
from unmask.sandbox.isolation import ALLOW_UNSANDBOXED, SandboxUnavailable, require
from unmask.sandbox.run import SandboxResult, run_code

__all__ = ["ALLOW_UNSANDBOXED", "SandboxResult", "SandboxUnavailable", "isolation", "require", "run_code"]
