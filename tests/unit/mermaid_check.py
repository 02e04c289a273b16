"""Mermaid's own parser in headless Chromium: which texts it accepts, its error for the rest.

npm's `mermaid` is installed once into a cache directory (DOCKERTRACE_MERMAID_DIR, else
~/.cache/dockertrace/mermaid-VERSION); Debian's `chromium` loads its bundled mermaid.min.js from
there in a page of our own, parses and renders each text, and writes the results into the page,
which `--dump-dom` prints. No network but npm's registry, once; no Selenium.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

VERSION = "11.17.2"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-file-access-from-files",
    "--virtual-time-budget=20000",
    "--dump-dom",
)
PAGE = """<!doctype html><html><body><pre id="out">pending</pre>
<script src="MERMAID"></script>
<script>
const texts = TEXTS;
(async () => {
  mermaid.initialize({startOnLoad: false, securityLevel: "strict"});
  const results = [];
  for (const [i, text] of texts.entries()) {
    try {
      await mermaid.parse(text);
      await mermaid.render("d" + i, text);
      results.push("ok");
    } catch (e) {
      results.push("error: " + String((e && e.message) || e));
    }
  }
  document.getElementById("out").textContent = JSON.stringify(results);
})();
</script></body></html>
"""


def missing() -> str | None:
    """What this machine lacks to run the check, or None."""
    for tool in ("chromium", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: chromium, nodejs npm)"
    return None


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "dockertrace" / f"mermaid-{VERSION}"
    return Path(os.environ.get("DOCKERTRACE_MERMAID_DIR", default))


def mermaid_js() -> Path:
    """mermaid.min.js, installed with npm into the cache directory first if it is not there."""
    root = cache_dir()
    js = root / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if not js.is_file():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(root),
                f"mermaid@{VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return js


def check(texts: list[str]) -> list[str]:
    """For each text, "ok" or Mermaid's error message."""
    js = mermaid_js()
    with tempfile.TemporaryDirectory(prefix="dockertrace-mermaid-") as tmp:
        page = Path(tmp) / "check.html"
        data = json.dumps(texts).replace("</", "<\\/")
        page.write_text(PAGE.replace("MERMAID", js.as_uri()).replace("TEXTS", data))
        profile = Path(tmp) / "profile"
        out = subprocess.run(
            ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    found = re.search(r'<pre id="out">(.*?)</pre>', out.stdout, re.S)
    if found is None or found.group(1) == "pending":
        raise RuntimeError(f"chromium did not run the check: {out.stderr[-500:]}")
    results = json.loads(html.unescape(found.group(1)))
    assert isinstance(results, list)
    return [str(r) for r in results]
