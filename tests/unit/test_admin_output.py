"""The staff UI's output helpers: SVG charts escape labels; CSV cells are formula-safe."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from admin.charts import bar_chart
from admin.csvexport import FORMULA_START, neutralise, to_csv
from admin.queries.cases import like_pattern


def test_chart_escapes_labels_and_has_a_title() -> None:
    svg = str(bar_chart("<t>", ["<script>alert(1)</script>", "ok"], [3, 0]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<title>&lt;t&gt;</title>" in svg and 'role="img"' in svg
    assert str(bar_chart("empty", [], [])).count("<rect") == 0


@given(st.text(max_size=40))
def test_csv_cells_never_start_a_formula(text: str) -> None:
    cell = neutralise(text)
    assert not cell.startswith(FORMULA_START)
    body = to_csv(["h"], [[text]])
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8")[1:], newline="")))
    assert rows[1] == [cell]


def test_csv_keeps_numbers_and_text_byte_identical() -> None:
    assert neutralise(-3) == "-3" and neutralise(2.5) == "2.5"
    for text in ("👨‍👩‍👧 𠮷 か\u3099", "=1+1", "@x", "-x", "+x", "\tx", "\rx"):
        out = neutralise(text)
        assert out.endswith(text) and len(out) - len(text) in (0, 1)


def test_like_pattern_escapes_wildcards() -> None:
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"
