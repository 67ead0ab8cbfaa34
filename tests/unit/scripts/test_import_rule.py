"""Issue 5, item 7: the auditor scripts import none of the node's own logic.

Allowed: the standard library, ``cryptography``, ``auditlib`` (the shared package beside them,
every module of it under the same rule), and for ``verify_log.py`` and its package
``verify_log_steps`` only, ``grpc`` and the generated protocol stubs ``node._proto.*``. Checked
statically (every import statement, wherever it is) and at run time.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.scripts.fixtures import SCRIPTS, sample_log, write_export

BASE = set(sys.stdlib_module_names) | {"cryptography", "auditlib"}
LIVE = BASE | {"grpc", "node._proto", "verify_log_steps"}
# Glob patterns under scripts/; the modules of a package import one another by absolute name.
ALLOWED = {
    "auditlib/*.py": BASE,
    "verify_bundle.py": BASE,
    "verify_evidence.py": BASE,
    "verify_log.py": LIVE,
    "verify_log_steps/*.py": LIVE,
}
CHECKED = sorted(
    (path.relative_to(SCRIPTS).as_posix(), pattern)
    for pattern in ALLOWED
    for path in SCRIPTS.glob(pattern)
)


def imports(path: Path) -> set[str]:
    """Every module an import statement names; ``node._proto.x`` is kept as ``node._proto``."""
    found: set[str] = set()
    for item in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(item, ast.Import):
            names = [alias.name for alias in item.names]
        elif isinstance(item, ast.ImportFrom):
            names = ["." if item.level else (item.module or "")]
        else:
            continue
        for name in names:
            if name == ".":
                found.add(".")
            elif name.startswith("node._proto."):
                found.add("node._proto")
            else:
                found.add(name.split(".")[0])
    return found


@pytest.mark.parametrize(("script", "pattern"), CHECKED)
def test_scripts_import_only_what_the_rule_allows(script: str, pattern: str) -> None:
    found = imports(SCRIPTS / script)

    assert "." not in found, "relative imports would tie the script to a package"
    assert "node" not in found, "the node package's own logic must not be imported"
    assert found <= ALLOWED[pattern], found - ALLOWED[pattern]


def test_the_rule_reaches_every_auditor_module() -> None:
    # A pattern that matches nothing (the package moved or renamed) would check nothing.
    checked = {script for script, _ in CHECKED}

    assert {"verify_bundle.py", "verify_evidence.py", "verify_log.py"} <= checked
    assert {"auditlib/__init__.py", "auditlib/keys.py", "auditlib/merkle.py"} <= checked
    assert {"verify_log_steps/__init__.py", "verify_log_steps/live.py"} <= checked


def test_the_rule_catches_node_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import node.log.merkle\nfrom node.core import Node\nfrom . import x\n")

    assert imports(bad) == {"node", "."}


def test_no_node_module_is_loaded_when_the_scripts_run(tmp_path: Path) -> None:
    log = sample_log()
    folder = write_export(tmp_path / "x", log)
    probe = f"""
import json, runpy, sys
sys.argv = ["verify_log.py", "--export", {str(folder)!r}, "--key", {log.vkey!r}]
try:
    runpy.run_path({str(SCRIPTS / "verify_log.py")!r}, run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, sorted(m for m in sys.modules if m == "node" or m.startswith("node."))]))
"""
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=tmp_path
    )

    code, loaded = json.loads(run.stdout.splitlines()[-1])
    assert code == 0, run.stderr
    assert loaded == []
