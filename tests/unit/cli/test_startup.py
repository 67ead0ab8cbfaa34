"""``hashfed --help`` loads the command line and nothing of the node behind it.

bench/startup.py --cli-only measures the time; this holds what makes it short.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


# What a lookup by signal on a small node must not load: the hashers (Pillow, pdqhash,
# imagehash, PyAV), the compiled kernel (numba, and scipy behind it), the TLS certificate
# parser, sqlite_utils' table helpers (migrations only), the server and the sync.
NOT_FOR_A_LOOKUP = (
    "PIL",
    "pdqhash",
    "imagehash",
    "av",
    "numba",
    "scipy",
    "cryptography.x509",
    "sqlite_utils",
    "grpc",
    "node.hashing",
    "node.server",
    "node.sync",
)

_LOOKUP = """
import json, sys
from node.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps([m for m in %r if m in sys.modules]), file=sys.stderr)
"""


def test_a_lookup_by_signal_loads_no_hasher_kernel_or_network(tmp_path: Path) -> None:
    from node.core import Node
    from node.log.entry import Labels
    from node.signals import ComputedSignal, Signal

    home = tmp_path / "home"
    value = bytes(range(32))
    with Node.init(home, "lookup.example") as node:
        node.publisher.publish_signals([ComputedSignal(Signal("pdq", value), 100)], Labels())
    for signal in (f"pdq:{value.hex()}", f"md5:{'0' * 32}"):
        lookup = ["--signal", signal, "--home", str(home)]
        done = subprocess.run(
            [sys.executable, "-c", _LOOKUP % (NOT_FOR_A_LOOKUP,), "match", "--json", *lookup],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        *_, loaded = done.stderr.strip().splitlines()
        assert json.loads(loaded) == [], (signal, done.stderr)
        if signal.startswith("pdq"):
            assert json.loads(done.stdout)[0]["matches"], done.stdout  # it did search
