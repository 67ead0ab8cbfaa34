"""compose/: the three-member docker-compose file, its Dockerfile and entrypoint.

Docker cannot run here, so the compose file is checked offline: its structure (three members,
each with a health check, its own home volume, a token for its local API, start order by
health), the compose-file rules that need no engine (known keys, declared volumes, existing
`depends_on` targets, valid conditions, durations, interpolations), and that everything the
Dockerfile and the services refer to exists. The entrypoint's home preparation runs for real.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
MEMBERS = ("member-a", "member-b", "member-c")
HOME_IN_IMAGE = "/data"

# The compose specification's keys (compose-spec schema), for the "no unknown keys" rule.
TOP_LEVEL_KEYS = {"version", "name", "include", "services", "networks", "volumes", "configs"}
TOP_LEVEL_KEYS |= {"secrets", "models"}
_SERVICE_KEYS = """
annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs
container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime
cpu_shares cpus cpuset credential_spec depends_on deploy develop device_cgroup_rules devices
dns dns_opt dns_search domainname entrypoint env_file environment expose extends
external_links extra_hosts gpus group_add healthcheck hostname image init ipc isolation
labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit
models network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports
post_start pre_stop privileged profiles pull_policy read_only restart runtime scale secrets
security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty
ulimits user userns_mode uts volumes volumes_from working_dir
"""
SERVICE_KEYS = set(_SERVICE_KEYS.split())
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval"}
HEALTHCHECK_KEYS |= {"disable"}
BUILD_KEYS = {"context", "dockerfile", "args", "target", "cache_from", "labels", "network"}
DEPENDS_ON_KEYS = {"condition", "restart", "required"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
PORT = re.compile(r"^((\d{1,3}(\.\d{1,3}){3}):)?(\d+:)?\d+(/(tcp|udp))?$")
INTERPOLATION = re.compile(r"\$(\$|\{[A-Za-z_][A-Za-z0-9_]*(:?[-?+][^}]*)?\})")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (COMPOSE_DIR / "Dockerfile").read_text(encoding="utf-8")


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _volumes(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each short-syntax volume."""
    mounts = []
    for item in service.get("volumes", []):
        source, target = str(item).split(":")[:2]
        mounts.append((source, target))
    return mounts


def _members(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if "HASHFED_ORIGIN" in _env(s)}


# -- structure ---------------------------------------------------------------------------------


def test_three_member_services_each_with_its_own_origin(services: dict[str, Any]) -> None:
    members = _members(services)
    assert sorted(members) == list(MEMBERS)
    origins = [_env(s)["HASHFED_ORIGIN"] for s in members.values()]
    assert len(set(origins)) == 3


def test_every_member_has_a_grpc_health_check(services: dict[str, Any]) -> None:
    script = COMPOSE_DIR / "healthcheck.py"
    assert "grpc_health" in script.read_text(encoding="utf-8")
    for name in MEMBERS:
        check = services[name]["healthcheck"]
        test = check["test"]
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"}, name
        assert "/opt/hashfed/compose/healthcheck.py" in " ".join(test), name
        assert not check.get("disable", False), name
        for key in ("interval", "timeout", "start_period"):
            assert DURATION.match(str(check[key])), (name, key, check[key])
        assert int(check["retries"]) >= 1


def test_every_member_keeps_its_home_on_its_own_named_volume(
    compose: dict[str, Any], services: dict[str, Any], dockerfile: str
) -> None:
    assert f"HASHFED_HOME={HOME_IN_IMAGE}" in dockerfile
    sources = []
    for name in MEMBERS:
        homes = [src for src, target in _volumes(services[name]) if target == HOME_IN_IMAGE]
        assert len(homes) == 1, f"{name} mounts no volume at {HOME_IN_IMAGE}"
        assert homes[0] in compose["volumes"], f"{homes[0]} is not a named volume"
        sources.append(homes[0])
    assert len(set(sources)) == 3, "members share a home volume"


def test_members_start_in_line_order_once_the_previous_one_is_healthy(
    services: dict[str, Any],
) -> None:
    assert "depends_on" not in services["member-a"]
    assert services["member-b"]["depends_on"] == {"member-a": {"condition": "service_healthy"}}
    assert services["member-c"]["depends_on"] == {"member-b": {"condition": "service_healthy"}}


def test_setup_exchanges_cards_once_every_member_is_healthy(services: dict[str, Any]) -> None:
    setup = services["setup"]
    assert setup["depends_on"] == {m: {"condition": "service_healthy"} for m in MEMBERS}
    assert setup["restart"] == "no"
    argv = [*setup["entrypoint"], *setup["command"]]
    assert argv[:3] == ["python", "/opt/hashfed/scripts/devnet.py", "link"]
    assert argv[argv.index("--topology") + 1] == "line"
    mounted = dict((target, source) for source, target in _volumes(setup))
    homes = [a for a in argv if a.startswith("/homes/")]
    assert homes == [f"/homes/{m}" for m in MEMBERS]
    for member, home in zip(MEMBERS, homes, strict=True):
        member_home = next(s for s, t in _volumes(services[member]) if t == HOME_IN_IMAGE)
        assert mounted[home] == member_home, f"setup sees another volume as {member}'s home"


def test_local_api_is_token_protected_and_published_on_loopback_only(
    services: dict[str, Any],
) -> None:
    entrypoint = _load("entrypoint", COMPOSE_DIR / "entrypoint.py")
    assert entrypoint.DEFAULT_LOCAL_BIND == "0.0.0.0:7444"
    variables = set()
    example = (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8")
    for name in MEMBERS:
        env = _env(services[name])
        bind = env.get("HASHFED_LOCAL_BIND", entrypoint.DEFAULT_LOCAL_BIND)
        assert bind.startswith("0.0.0.0:")
        token = env["HASHFED_LOCAL_TOKEN"]
        # A required variable: compose refuses to start without it, so no default token exists.
        match = re.fullmatch(r"\$\{([A-Z0-9_]+):\?[^}]+\}", token)
        assert match, f"{name}'s token is not a required ${{VAR:?message}}: {token}"
        variables.add(match.group(1))
        assert re.search(rf"^{match.group(1)}=", example, re.M), f"{match.group(1)} not in example"
        for port in services[name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert len(variables) == 3, "members share a token"
    assert ".env" in (COMPOSE_DIR / ".gitignore").read_text(encoding="utf-8").split()


# -- the compose rules that can be checked offline -------------------------------------------


def test_only_known_keys(compose: dict[str, Any], services: dict[str, Any]) -> None:
    unknown = {k for k in compose if not k.startswith("x-")} - TOP_LEVEL_KEYS
    assert not unknown, f"unknown top-level keys: {unknown}"
    assert "version" not in compose, "`version` is obsolete in the compose specification"
    for name, service in services.items():
        assert re.fullmatch(r"[a-zA-Z0-9._-]+", name)
        assert not (set(service) - SERVICE_KEYS), (name, set(service) - SERVICE_KEYS)
        assert not (set(service.get("healthcheck", {})) - HEALTHCHECK_KEYS), name
        build = service.get("build", {})
        assert isinstance(build, str) or not (set(build) - BUILD_KEYS), name
        assert service.get("restart", "no") in RESTART_POLICIES, name
        assert "image" in service or "build" in service, name


def test_references_resolve(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for source, target in _volumes(service):
            assert target.startswith("/"), (name, target)
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: use the long depends_on syntax"
        for target, spec in depends.items():
            assert target in services and target != name, (name, target)
            assert not (set(spec) - DEPENDS_ON_KEYS), (name, spec)
            assert spec["condition"] in CONDITIONS, (name, spec)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no health check"
        for port in service.get("ports", []):
            assert PORT.match(str(port)), (name, port)
        for port in service.get("expose", []):
            assert re.fullmatch(r"\d+(/(tcp|udp))?", str(port)), (name, port)
        if "stop_grace_period" in service:
            assert DURATION.match(str(service["stop_grace_period"]))
    assert used == declared, f"declared but unused volumes: {declared - used}"
    _assert_acyclic({n: set(s.get("depends_on", {})) for n, s in services.items()})


def _assert_acyclic(graph: dict[str, set[str]]) -> None:
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"depends_on cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        for nxt in graph[node]:
            visit(nxt, (*path, node))
        done.add(node)

    for node in graph:
        visit(node, ())


def test_interpolations_are_well_formed() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    lines = [line.split(" #", 1)[0] for line in text.splitlines() if not line.startswith("#")]
    body = "\n".join(lines)
    for index in [m.start() for m in re.finditer(r"\$", body)]:
        if index > 0 and body[index - 1] == "$":
            continue
        near = body[index : index + 40]
        assert INTERPOLATION.match(body, index), f"bad interpolation near {near}"


# -- the image ---------------------------------------------------------------------------------


def test_every_service_builds_the_one_dockerfile_which_exists(services: dict[str, Any]) -> None:
    for name, service in services.items():
        build = service["build"]
        context = (COMPOSE_DIR / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).resolve() == COMPOSE_DIR / "Dockerfile"
        assert service["image"] == services["member-a"]["image"]


def test_dockerfile_installs_build_tools_and_the_package(dockerfile: str) -> None:
    instructions = _instructions(dockerfile)
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    assert re.search(r"apt-get install [^&]*build-essential", runs), "no build tools for pdqhash"
    assert "pip wheel" in runs and "pip install" in runs
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert all(re.match(r"python:3\.11", f) for f in froms), froms
    assert any(op == "USER" and arg != "root" for op, arg in instructions), "runs as root"
    entry = next(arg for op, arg in instructions if op == "ENTRYPOINT")
    assert "/opt/hashfed/compose/entrypoint.py" in entry


def test_everything_the_dockerfile_copies_exists_and_is_not_ignored(dockerfile: str) -> None:
    ignore = (COMPOSE_DIR / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    assert "*" in ignore, "the context should default to nothing (.venv, .git, homes stay out)"
    copied = []
    for op, arg in _instructions(dockerfile):
        if op != "COPY" or arg.startswith("--from"):
            continue
        *sources, _dest = shlex.split(arg)
        copied.extend(sources)
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: missing"
        assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), source
    for path in ("compose/entrypoint.py", "compose/healthcheck.py", "scripts/devnet.py"):
        assert path in copied, f"{path} is used by the compose file but not copied"


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    found = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            op, _, arg = line.partition(" ")
            found.append((op.upper(), " ".join(arg.split())))
    return found


# -- the entrypoint, for real ------------------------------------------------------------------


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"compose_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entrypoint_initialises_on_first_start_and_keeps_the_identity(tmp_path: Path) -> None:
    entrypoint = _load("entrypoint", COMPOSE_DIR / "entrypoint.py")
    home = tmp_path / "data"
    env = {
        "HASHFED_HOME": str(home),
        "HASHFED_ORIGIN": "member-a.example",
        "HASHFED_ADVERTISE": "member-a:7443",
        "HASHFED_LOCAL_TOKEN": "first-token-0123456789",
        "HASHFED_SYNC_INTERVAL_S": "5",
    }
    assert entrypoint.prepare(env) == home
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config["origin"] == "member-a.example"
    assert config["peer_address"] == "member-a:7443"  # what the member card advertises
    assert config["local_address"] == "0.0.0.0:7444"
    assert config["local_token"] == "first-token-0123456789"
    assert config["sync_interval_s"] == 5.0
    key = (home / "keys" / "signing.key").read_bytes()

    entrypoint.prepare({**env, "HASHFED_LOCAL_TOKEN": "rotated-token-0123456789"})
    config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    assert config["local_token"] == "rotated-token-0123456789"
    assert (home / "keys" / "signing.key").read_bytes() == key, "second start re-initialised"

    argv = entrypoint.command(["serve"], env)
    assert argv[1:] == [
        "serve",
        "--peer-address",
        "0.0.0.0:7443",
        "--local-address",
        "0.0.0.0:7444",
    ]
    assert entrypoint.command(["identity"], env)[1:] == ["identity"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"HASHFED_LOCAL_TOKEN": ""}, "HASHFED_LOCAL_TOKEN"),
        ({"HASHFED_LOCAL_TOKEN": "replace-me-with-a-long-random-secret-a"}, "HASHFED_LOCAL_TOKEN"),
        ({"HASHFED_ORIGIN": ""}, "HASHFED_ORIGIN"),
    ],
)
def test_entrypoint_refuses_to_start_unprotected_or_nameless(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    entrypoint = _load("entrypoint", COMPOSE_DIR / "entrypoint.py")
    env = {
        "HASHFED_HOME": str(tmp_path / "data"),
        "HASHFED_ORIGIN": "member-a.example",
        "HASHFED_LOCAL_TOKEN": "a-good-token-0123456789",
        **change,
    }
    with pytest.raises(entrypoint.SetupError, match=message):
        entrypoint.prepare(env)
    assert not (tmp_path / "data" / "config.toml").exists()


def test_entrypoint_refuses_another_members_volume(tmp_path: Path) -> None:
    entrypoint = _load("entrypoint", COMPOSE_DIR / "entrypoint.py")
    env = {
        "HASHFED_HOME": str(tmp_path / "data"),
        "HASHFED_ORIGIN": "member-a.example",
        "HASHFED_LOCAL_TOKEN": "a-good-token-0123456789",
    }
    entrypoint.prepare(env)
    with pytest.raises(entrypoint.SetupError, match=r"member-a\.example"):
        entrypoint.prepare({**env, "HASHFED_ORIGIN": "member-b.example"})
