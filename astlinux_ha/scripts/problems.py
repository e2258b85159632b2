"""Problems found while preparing scripts, in the form the config checker reports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# 'warning' is only logged; 'error' is a config error (keepalived -t exit 5 class);
# 'security' is a script-security violation (keepalived -t exit 6 class).
Severity = Literal["warning", "error", "security"]


@dataclass(frozen=True)
class Problem:
    """One message about a script, with where in the config it came from (``FILE:LINE``)."""

    message: str
    severity: Severity
    where: str | None = None

    def render(self) -> str:
        """The ``FILE:LINE: message`` line that ``-t`` prints."""
        return f"{self.where}: {self.message}" if self.where else self.message
