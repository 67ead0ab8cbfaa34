"""Config bounds of the sync (max_origin_entries, max_fetch_per_round): defaults, round trip,
refusals in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import InvalidInputError
from node.home import DEFAULT_MAX_FETCH_PER_ROUND, DEFAULT_MAX_ORIGIN_ENTRIES, Config

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
