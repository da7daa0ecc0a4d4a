"""The rate limiter (GCRA) and the settings it is configured by: pure code, a fake clock."""

from __future__ import annotations

import pytest

from api.limits import RateLimiter, retry_after
from api.settings import OFF, ApiSettings, Rate, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_count_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(10, 60.0), clock)
    assert [limiter.hit("a") for _ in range(10)] == [0.0] * 10
    wait = limiter.hit("a")
    assert wait == pytest.approx(6.0)
    clock.now += 5.9
    assert limiter.hit("a") > 0
    clock.now += 0.2
    assert limiter.hit("a") == 0.0
    assert limiter.hit("a") == pytest.approx(5.9)  # the next slot is six seconds after the last


def test_keys_are_counted_apart() -> None:
    limiter = RateLimiter(Rate(2, 1.0), Clock())
    assert limiter.hit("a") == limiter.hit("a") == 0.0
    assert limiter.hit("a") > 0
    assert limiter.hit("b") == 0.0


def test_a_refused_request_does_not_use_up_the_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(1, 10.0), clock)
    assert limiter.hit("a") == 0.0
    for _ in range(100):
        assert limiter.hit("a") > 0
    clock.now += 10
    assert limiter.hit("a") == 0.0


def test_full_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(5, 1.0), clock)
    for key in range(RateLimiter._PRUNE_EVERY - 1):
        limiter.hit(key)
    assert len(limiter) == RateLimiter._PRUNE_EVERY - 1
    clock.now += 2
    limiter.hit("last")
    assert len(limiter) == 1


def test_off_never_limits() -> None:
    limiter = RateLimiter(OFF, Clock())
    assert all(limiter.hit("a") == 0.0 for _ in range(10_000))


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20/minute", Rate(20, 60.0)),
        ("5/s", Rate(5, 1.0)),
        ("100/10s", Rate(100, 10.0)),
        (" 1000 / hour ", Rate(1000, 3600.0)),
        ("off", OFF),
        ("0/minute", OFF),
    ],
)
def test_rates_are_read_from_text(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "10", "10/fortnight", "-1/s", "1.5/s"])
def test_a_bad_rate_is_refused_with_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="COUNT/PERIOD"):
        parse_rate(text)


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert retry_after(0.01) == "1"
    assert retry_after(6.0) == "6"
    assert retry_after(6.2) == "7"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALIBOT_ALLOWED_ORIGINS", "https://Shop.example/, http://localhost:3000")
    monkeypatch.setenv("QUALIBOT_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1, ::1")
    monkeypatch.setenv("QUALIBOT_RATE_START", "5/10s")
    monkeypatch.setenv("QUALIBOT_RATE_IP", "off")
    monkeypatch.setenv("QUALIBOT_TOKEN_TTL", "P7D")
    settings = ApiSettings(_env_file=None)
    assert settings.allowed_origins == ["https://shop.example", "http://localhost:3000"]
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]
    assert settings.rate_start == Rate(5, 10.0)
    assert settings.rate_ip == OFF
    assert settings.token_ttl.days == 7


@pytest.mark.parametrize("origin", ["shop.example", "ftp://shop.example", "https://shop.example/path"])
def test_an_origin_must_be_scheme_and_host(origin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALIBOT_ALLOWED_ORIGINS", origin)
    with pytest.raises(ValueError, match="scheme://host"):
        ApiSettings(_env_file=None)
