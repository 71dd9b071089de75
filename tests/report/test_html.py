"""report.html content: the partial banner, escaping, one section per session."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from simrig.report.folder import write_report
from simrig.report.html import HTML_NAME, session_anchor
from simrig.sim.results import INTERRUPTED


def test_every_session_has_a_section_and_text_is_escaped(result_a, tmp_path: Path) -> None:
    verdict = result_a.verdicts[1]
    marked = dataclasses.replace(verdict, remarks=("<script>alert(1)</script> [[users]]",))
    result = dataclasses.replace(
        result_a, verdicts=[result_a.verdicts[0], marked, *result_a.verdicts[2:]]
    )
    write_report([result], tmp_path, capture="none")
    page = (tmp_path / HTML_NAME).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; [[users]]" in page
    assert "<script>" not in page
    for v in result.verdicts:
        anchor = session_anchor(0, v.key)
        assert f'id="{anchor}"' in page and f'href="#{anchor}"' in page
    assert 'href="results.json"' in page and 'href="summary.txt"' in page
    assert "codes 1: bill lost" in page


def test_a_partial_report_says_so_on_the_page(result_a, tmp_path: Path) -> None:
    cut = dataclasses.replace(result_a, stopped_early=INTERRUPTED, expectations=[])
    write_report([cut], tmp_path, capture="none", interrupted=True)
    page = (tmp_path / HTML_NAME).read_text(encoding="utf-8")
    assert 'class="banner" id="partial">PARTIAL REPORT: the run was interrupted' in page
    assert "exit code 4 (interrupted: a partial report)" in page
