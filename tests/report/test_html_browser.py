"""report.html in a real headless browser (Debian chromium, no network): every image
decodes, every session row links to its section, and the page needs nothing beside it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from simrig.report.folder import write_report
from simrig.report.html import HTML_NAME

#: written into the page by the script the test appends (the DOM is then dumped)
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({alt: i.alt, w: i.naturalWidth,
                                                 inline: i.src.startsWith("data:image/png")}));
  const rows = [...document.querySelectorAll("tr.session-row")].map(tr => {
    const a = tr.querySelector("td:first-child a");
    const id = a ? a.getAttribute("href").slice(1) : null;
    return {key: tr.cells[0].textContent, id, target: !!(id && document.getElementById(id))};
  });
  const back = [...document.querySelectorAll("section.session")].map(s => {
    const up = s.querySelector("a[href^='#run-']").getAttribute("href").slice(1);
    return !!document.getElementById(up);
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, rows, back, title: document.title});
  document.body.appendChild(out);
});
</script>
"""

CHROMIUM = shutil.which("chromium")
#: headless, as root in CI (no sandbox), and no network: every request goes to a dead proxy
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>", "--disable-background-networking"]  # fmt: skip


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM or "chromium", *FLAGS, *args], capture_output=True, text=True, timeout=60
    )


def test_the_html_report_in_a_headless_browser(result_a, result_b, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium missing: `make setup` installs Debian's package"
    out = write_report([result_a, result_b], tmp_path / "out", capture="none")
    page = (out / HTML_NAME).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dumped = _chromium("--virtual-time-budget=5000", "--dump-dom", probe_page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout, re.S)
    assert found, dumped.stderr[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    drawn = sorted((out / "sessions").rglob("*.png"))
    assert len(probe["images"]) == len(drawn) >= 2
    assert all(i["w"] == 1170 and i["inline"] for i in probe["images"]), probe["images"]
    sessions = [v.key for r in (result_a, result_b) for v in r.verdicts]
    linked = [row for row in probe["rows"] if row["id"]]
    assert [row["key"] for row in linked] == sessions
    assert all(row["target"] for row in linked), probe["rows"]
    unlinked = [row["key"] for row in probe["rows"] if not row["id"]]
    assert unlinked == ["32010200000001:1:9"]  # an expectation about a session never seen
    assert probe["back"] and all(probe["back"])
    shot = tmp_path / "report.png"
    _chromium("--window-size=1280,1600", f"--screenshot={shot}", (out / HTML_NAME).as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
