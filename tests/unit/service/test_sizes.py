"""The facade stays small and every service module short (issue 10): a new use case gets its
own module in node/service/, not more lines in node/core.py."""

from __future__ import annotations

from pathlib import Path

import node

PACKAGE = Path(node.__file__).parent
FACADE_MAX_LINES = 200
MODULE_MAX_LINES = 400
# Every module of the package, generated code aside (issue 10: none over ~400 lines).
OWNED = sorted(p for p in PACKAGE.rglob("*.py") if "_proto" not in p.relative_to(PACKAGE).parts)


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_the_facade_is_at_most_200_lines() -> None:
    assert _lines(PACKAGE / "core.py") <= FACADE_MAX_LINES


def test_every_module_of_node_is_at_most_400_lines() -> None:
    assert len(OWNED) > 100  # the glob found the package
    too_long = {p.name: n for p in OWNED if (n := _lines(p)) > MODULE_MAX_LINES}
    assert too_long == {}
