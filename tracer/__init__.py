"""dockertrace: watch how a container really starts, from the docker CLI down to the kernel."""

from __future__ import annotations

__version__ = "0.1.0"
