"""Device classes of user agents, checked on the real Apache example log's distinct agents."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from vigie.referential import devices
from vigie.referential.devices import DEVICE_CLASSES, classify_user_agents

APACHE_LOG = Path("/work/shared/data/real/apache_combined_elastic_examples.log")
_AGENT = re.compile(r'"([^"]*)"\s*$')


@pytest.fixture(scope="module")
def real_agents() -> list[str]:
    if not APACHE_LOG.exists():
        pytest.skip("apache example log absent")
    agents: dict[str, None] = {}
    with APACHE_LOG.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            match = _AGENT.search(line)
            if match:
                agents.setdefault(match.group(1))
    return list(agents)


@pytest.mark.parametrize(
    ("agent", "device", "browser", "os"),
    [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/32.0.1700.77 Safari/537.36",
            "desktop",
            "Chrome",
            "Mac OS X",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:26.0) Gecko/20100101 Firefox/26.0",
            "desktop",
            "Firefox",
            "Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 7_0_4 like Mac OS X) AppleWebKit/537.51.1 "
            "(KHTML, like Gecko) Version/7.0 Mobile/11B554a Safari/9537.53",
            "smartphone",
            "Mobile Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 7_0_4 like Mac OS X) AppleWebKit/537.51.1 (KHTML, like "
            "Gecko) Version/7.0 Mobile/11B554a Safari/9537.53",
            "tablet",
            "Mobile Safari",
            "iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 4.4.2; Nexus 5 Build/KOT49H) AppleWebKit/537.36 (KHTML, "
            "like Gecko) Chrome/32.0.1700.99 Mobile Safari/537.36",
            "smartphone",
            "Chrome Mobile",
            "Android",
        ),
        (
            "Mozilla/5.0 (Linux; U; Android 4.1.2; it-it; GT-P3100 Build/JZO54K) AppleWebKit/534.30"
            " (KHTML, like Gecko) Version/4.0 Safari/534.30",
            "tablet",
            "Android",
            "Android",
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "bot",
            "Googlebot",
            "Other",
        ),
        ("curl/7.22.0 (i686-pc-linux-gnu) libcurl/7.22.0 OpenSSL/1.0.1", "bot", "curl", "Linux"),
        ("python-requests/2.31.0", "bot", "Python Requests", "Other"),
        ("Java/1.8.0_292", "bot", "Java", "Other"),
        (
            "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; Tablet PC 2.0)",
            "desktop",
            "IE",
            "Windows",
        ),
        (
            "Mozilla/5.0 (compatible; MSIE 10.0; Windows Phone 8.0; Trident/6.0; IEMobile/10.0; "
            "ARM; Touch; NOKIA; Lumia 920)",
            "smartphone",
            "IE Mobile",
            "Windows Phone",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 15359.58.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/112.0.0.0 Safari/537.36",
            "desktop",
            "Chrome",
            "Chrome OS",
        ),
    ],
)
def test_referential_devices_known_agents(agent: str, device: str, browser: str, os: str) -> None:
    row = classify_user_agents(pa.array([agent])).to_pylist()[0]
    assert row == {"user_agent": agent, "device": device, "browser": browser, "os": os}


def test_referential_devices_null_and_empty_are_other() -> None:
    table = classify_user_agents(pa.array([None, "", "   "], pa.string()))
    assert table.column_names == ["user_agent", "device", "browser", "os"]
    assert table["device"].to_pylist() == ["other", "other", "other"]
    assert table["browser"].to_pylist() == [None, None, None]
    assert table["user_agent"].to_pylist() == [None, "", "   "]


def test_referential_devices_real_log_distribution(real_agents: list[str]) -> None:
    table = classify_user_agents(pa.array(real_agents))
    assert table.num_rows == len(real_agents) == 558
    assert table["user_agent"].to_pylist() == real_agents  # same order
    counts = {d: table["device"].to_pylist().count(d) for d in DEVICE_CLASSES}
    assert set(table["device"].to_pylist()) <= set(DEVICE_CLASSES)
    # Mostly desktop browsers, then bots and feed readers, then phones and tablets.
    assert counts["desktop"] > 300
    assert 70 < counts["bot"] < 110
    assert 90 < counts["smartphone"] < 120
    assert 10 < counts["tablet"] < 30
    assert counts["other"] < 40
    rows = {row["user_agent"]: row for row in table.to_pylist()}
    assert (
        rows["Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"]["device"] == "bot"
    )
    assert rows["Wget/1.14 (linux-gnu)"]["device"] == "bot"
    assert rows["-"]["device"] == "other"


def test_referential_devices_cache_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:99.0) Gecko/20100101 Firefox/99.0 vigie-cache"
    first = classify_user_agents(pa.array([agent]))
    assert agent in devices._CACHE

    def fail(_: str) -> None:
        raise AssertionError("parsed twice")

    monkeypatch.setattr(devices, "parse", fail)
    assert classify_user_agents(pa.array([agent, agent])).slice(0, 1).equals(first)
