"""Open a ``snakemake --report`` HTML file in headless Chromium, as a reader would, and return what
the page shows (its DOM after the scripts ran) or screenshots of it.

The report is a single-page React app; a harness script added to a copy of the page waits for it
to render, then acts as a reader: clicks the opening page's "Open the verdict summary" link, or
opens a paper's figures table and clicks the first figure's view button. In ``probe`` mode it
copies what is shown into ``<pre id="probe-...">`` elements that the DOM dump keeps: the opening
text, the summary page that the link opened (decoded from the iframe's data URI: a data: frame is
cross-origin, so its DOM cannot be read), and the figures table's column headers.

    python tests/workflow/report_browser.py report.html OUT_DIR  # screenshots, 2 window sizes
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=20000"]
HARNESS = """
<script>
(function () {
  const MODE = %(mode)s, CATEGORY = %(category)s, PROBE = %(probe)s;
  const probe = (id, text) => {
    if (!PROBE) return;
    const el = document.createElement("pre"); el.id = id; el.textContent = text;
    document.body.appendChild(el);
  };
  const decode = (uri) => new TextDecoder().decode(
    Uint8Array.from(atob(uri.slice(uri.indexOf(",") + 1)), (c) => c.charCodeAt(0)));
  function openSummary() {
    probe("probe-opening", document.querySelector("#app").innerText);
    const link = [...document.querySelectorAll("#app a")].find(
      (a) => a.textContent.trim() === "Open the verdict summary");
    if (!link) { probe("probe-error", "no 'Open the verdict summary' link"); return; }
    link.click();
    setTimeout(() => {
      const frame = document.querySelector("#app iframe");
      if (!frame) { probe("probe-error", "the link opened no frame"); return; }
      if (PROBE) {
        const div = document.createElement("div"); div.id = "probe-summary";
        div.innerHTML = decode(frame.getAttribute("src"));
        document.body.appendChild(div);
      }
    }, 1500);
  }
  function openFigure() {
    app.setView({navbarMode: "subcategory", category: CATEGORY, subcategory: "figures"});
    setTimeout(() => {
      const heads = [...document.querySelectorAll("nav table th")].map((th) => th.textContent);
      probe("probe-figures", JSON.stringify(heads));
      const view = document.querySelector("nav table td a[type=button]");
      if (!view) { probe("probe-error", "no view button in the figures table"); return; }
      view.click();
    }, 1500);
  }
  const steps = {open: () => null, summary: openSummary, figure: openFigure};
  window.addEventListener("load", () => setTimeout(steps[MODE], 2000));
})();
</script>
"""


def chromium() -> str:
    """Debian's chromium (README: the CI step installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise FileNotFoundError("chromium not found: apt-get install -y chromium")
    return found


def _with_harness(report: Path, folder: Path, mode: str, category: str, probe: bool) -> Path:
    page = report.read_text()
    script = HARNESS % {"mode": json.dumps(mode), "category": json.dumps(category),
                        "probe": json.dumps(probe)}
    at = page.rindex("</body>")
    out = folder / f"{mode}.html"
    out.write_text(page[:at] + script + page[at:])
    return out


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def rendered_dom(report: Path, mode: str, category: str = "") -> str:
    """The page's DOM after the harness acted (``mode``: summary or figure), probes included."""
    with tempfile.TemporaryDirectory() as folder:
        page = _with_harness(report, Path(folder), mode, category, probe=True)
        done = _run(["--dump-dom", page.as_uri()], Path(folder) / "profile")
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def screenshot(report: Path, mode: str, out: Path, size: str = "1400,900",
               category: str = "") -> Path:
    """A PNG of what a reader sees at ``size`` after the harness acted (open, summary, figure)."""
    with tempfile.TemporaryDirectory() as folder:
        page = _with_harness(report, Path(folder), mode, category, probe=False)
        done = _run([f"--window-size={size}", f"--screenshot={out.resolve()}", page.as_uri()],
                    Path(folder) / "profile")
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return out


if __name__ == "__main__":
    report, folder = Path(sys.argv[1]), Path(sys.argv[2])
    category = sys.argv[3] if len(sys.argv) > 3 else "loukas2021"
    folder.mkdir(parents=True, exist_ok=True)
    for size in ("1400,900", "1920,1080"):
        for mode in ("open", "summary", "figure"):
            name = f"{mode}_{size.replace(',', 'x')}.png"
            print(screenshot(report, mode, folder / name, size, category))
