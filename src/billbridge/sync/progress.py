"""How far a run has got, read from DBOS's records of its steps: pages stored and their records.

Any process may be running the run (a worker, the server, the command that asked for it), so the
count comes from the system database, not from this process's own steps. A run's large first read
is split into window workflows, its children, and a window may split off windows of its own (their
ids start with the run's); their pages count too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from dbos import DBOS

from billbridge.sync.workflows import WINDOW_WORKFLOW

PAGE_STEP: Final = "billbridge.sync.page"
ENDED: Final = frozenset({"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})


@dataclass
class RunProgress:
    """Pages and records a run has stored so far (call :meth:`refresh` to read on)."""

    workflow_id: str
    pages: int = 0
    records: int = 0
    # Steps already counted per workflow: each refresh reads only the steps recorded since.
    _read: dict[str, int] = field(default_factory=dict)
    # Windows that had ended when their steps were last read: nothing more to read of them.
    _ended: set[str] = field(default_factory=set)

    async def refresh(self) -> None:
        windows = await DBOS.list_workflows_async(
            workflow_id_prefix=f"{self.workflow_id}-",
            name=WINDOW_WORKFLOW,
            load_input=False,
            load_output=False,
        )
        ended = {w.workflow_id for w in windows if w.status in ENDED}
        unread = [w.workflow_id for w in windows if w.workflow_id not in self._ended]
        for workflow_id in (self.workflow_id, *unread):
            done = self._read.get(workflow_id, 0)
            recorded = await DBOS.list_workflow_steps_async(workflow_id, offset=done)
            self._read[workflow_id] = done + len(recorded)
            for step in recorded:
                output = step["output"]
                if step["function_name"] == PAGE_STEP and isinstance(output, dict) and "records" in output:
                    self.pages += int(output.get("pages", 1))  # one page per step before "pages"
                    self.records += int(output["records"])
        self._ended |= ended
