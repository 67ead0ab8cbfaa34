"""``hashfed --help`` loads the command line and nothing of the node behind it.

bench/startup.py --cli-only measures the time; this holds what makes it short.
"""

from __future__ import annotations

import json
import subprocess
import sys

from node.cli import options
from node.home import ENV_HOME
from tests.support.paths import ROOT

# What a command loads when it runs, and --help must not.
HEAVY = (
    "grpc",
    "PIL",
    "pdqhash",
    "imagehash",
    "numba",
    "numpy",
    "av",
    "stix2",
    "sqlite3",
    "cryptography",
    "google.protobuf",
    "platformdirs",
    "asyncio",
    "markdown_it",
)

_HELP = """
import json, sys
from node.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {"node", *%r})),
      file=sys.stderr)
"""


def _loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _HELP % (HEAVY,), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "Usage: hashfed" in done.stdout
    return json.loads(done.stderr.splitlines()[-1])  # type: ignore[no-any-return]


def test_help_loads_only_the_command_line() -> None:
    for args in (["--help"], ["match", "--help"], ["member", "add", "--help"]):
        loaded = _loaded(*args)
        assert not [m for m in loaded if m.split(".")[0] in HEAVY], (args, loaded)
        node = {m for m in loaded if m.startswith("node.")}
        assert node <= {"node.errors", "node.text"} | {m for m in node if m.startswith("node.cli")}


def test_the_home_variable_is_the_one_node_home_reads() -> None:
    assert options.ENV_HOME == ENV_HOME
