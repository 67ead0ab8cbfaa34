"""Config: the peer scheduling keys (docs/protocol.md §9.7), checked with what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import InvalidInputError
from node.home import Config


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
