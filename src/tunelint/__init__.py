"""tunelint: a linter for LLM fine-tuning datasets.

Library first: `lint(...)` returns a `Report`; the CLI is a thin shell around it.
"""

__version__ = "0.1.0"

from tunelint.checks.base import Check, CheckContext, CheckOptions, DatasetCheck, RecordCheck  # noqa: E402
from tunelint.config import ConfigError, Settings, load_settings  # noqa: E402
from tunelint.engine import Report, lint  # noqa: E402
from tunelint.models import (  # noqa: E402
    Criterion,
    DatasetInfo,
    Example,
    Finding,
    Location,
    Role,
    Severity,
    ToolCall,
    Turn,
)

__all__ = [
    "Check",
    "CheckContext",
    "CheckOptions",
    "ConfigError",
    "Criterion",
    "DatasetCheck",
    "DatasetInfo",
    "Example",
    "Finding",
    "Location",
    "RecordCheck",
    "Report",
    "Role",
    "Settings",
    "Severity",
    "ToolCall",
    "Turn",
    "__version__",
    "lint",
    "load_settings",
]
