"""Config: the peer scheduling keys (docs/protocol.md §9.7) and the sync bounds
(max_origin_entries, max_fetch_per_round): defaults, round trip, refusals in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import InvalidInputError
from node.home import DEFAULT_MAX_FETCH_PER_ROUND, DEFAULT_MAX_ORIGIN_ENTRIES, Config


def _config(tmp_path: Path, text: str) -> Config:
    return Config.from_toml(f'version = 1\norigin = "a.example"\n{text}', tmp_path / "c.toml")


def test_scheduling_keys_round_trip(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        "sync_round_deadline_s = 5\nsync_backoff_max_s = 30\n"
        "sync_min_entries_per_s = 0\nsync_rate_window_s = 2\n",
    )
    again = Config.from_toml(config.to_toml(), tmp_path / "c.toml")
    assert again == config
    assert (again.sync_round_deadline_s, again.sync_backoff_max_s) == (5.0, 30.0)
    assert (again.sync_min_entries_per_s, again.sync_rate_window_s) == (0.0, 2.0)
    assert again.extra == {}


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("sync_round_deadline_s = 0", "sync_round_deadline_s is 0; expected a positive number"),
        ("sync_backoff_max_s = -1", "sync_backoff_max_s is -1; expected a positive number"),
        ('sync_rate_window_s = "30"', "sync_rate_window_s is '30'; expected a positive number"),
        ("sync_min_entries_per_s = -2", "expected a number >= 0 (entries per second)"),
        ("sync_round_deadline_s = inf", "sync_round_deadline_s is inf"),
        ("sync_backoff_max_s = true", "sync_backoff_max_s is True"),
    ],
)
def test_bad_scheduling_keys_are_refused_with_what_was_expected(
    tmp_path: Path, line: str, words: str
) -> None:
    with pytest.raises(InvalidInputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        _config(tmp_path, line)


BASE = 'version = 1\norigin = "a.example"\n'


def test_defaults_and_round_trip() -> None:
    config = Config.from_toml(BASE, Path("config.toml"))
    assert (config.max_origin_entries, config.max_fetch_per_round) == (100_000_000, 2_000_000)
    assert (DEFAULT_MAX_ORIGIN_ENTRIES, DEFAULT_MAX_FETCH_PER_ROUND) == (100_000_000, 2_000_000)
    assert "max_origin_entries" not in config.to_toml()  # defaults are not written out
    custom = Config.from_toml(
        BASE + "max_origin_entries = 5000\nmax_fetch_per_round = 70\n", Path("config.toml")
    )
    assert (custom.max_origin_entries, custom.max_fetch_per_round) == (5_000, 70)
    again = Config.from_toml(custom.to_toml(), Path("config.toml"))
    assert (again.max_origin_entries, again.max_fetch_per_round) == (5_000, 70)
    assert again.extra == {}


@pytest.mark.parametrize("value", ["0", "-3", "1.5", '"many"', "true"])
@pytest.mark.parametrize("key", ["max_origin_entries", "max_fetch_per_round"])
def test_bad_bounds_are_refused_in_words(key: str, value: str) -> None:
    with pytest.raises(InvalidInputError, match=f"{key} must be a positive integer"):
        Config.from_toml(BASE + f"{key} = {value}\n", Path("config.toml"))
