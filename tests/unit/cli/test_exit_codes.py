"""README.md's table of exit codes is :class:`node.errors.ExitCode`, row by row."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from node import errors
from node.cli.main import app
from node.errors import ExitCode, HashfedError
from tests.support.paths import ROOT

ROW = re.compile(r"^\| (\d+) \| `(\w+)` \| (.+) \|$")


def _readme_rows() -> list[tuple[int, str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]  # no header
    parsed = [ROW.match(line) for line in rows]
    assert all(parsed), f"a row is not `| code | `NAME` | meaning |`: {rows}"
    return [(int(m[1]), m[2], m[3]) for m in parsed if m]


def test_readme_table_is_the_enum_row_by_row() -> None:
    assert _readme_rows() == [(int(code), code.name, code.meaning) for code in ExitCode]


def test_every_error_carries_a_documented_code() -> None:
    classes = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, HashfedError)
    ]
    assert len(classes) > 10
    for cls in classes:
        assert isinstance(cls.exit_code, ExitCode), cls
        assert cls.exit_code not in (ExitCode.OK, ExitCode.NO_MATCH, ExitCode.USAGE), cls


def test_a_usage_error_exits_with_the_usage_code() -> None:
    assert CliRunner().invoke(app, ["match", "--no-such-option"]).exit_code == ExitCode.USAGE
