"""Device class, browser and OS of user-agent strings, with ua-parser.

Why per distinct value and cached: parsing a user agent costs microseconds to milliseconds,
and a service sees a few thousand distinct agents for millions of hits, so each distinct string
is parsed once per process and remembered.

Classes, checked in this order (first match wins):

``bot``
    ua-parser says the device is a ``Spider``, or the string names a crawler or an automated
    HTTP client (``bot``, ``crawl``, ``spider``, ``slurp``, ``curl``, ``wget``,
    ``python-requests``, ``Java/``, ``Go-http-client``, ``libwww-perl``, ``HttpClient``...).
    Scripts are counted as bots, not as ``other``: usage analytics are about people, and a
    cron job or a CAS ticket validation from a Java server is not a person.
``tablet``
    iPad, Kindle/Silk, ``Tablet`` in the string or the device name, Android without
    ``Mobile``. (iPadOS 13+ Safari sends a Macintosh string and is counted as desktop:
    nothing in the string tells them apart.)
``smartphone``
    any phone: iPhone/iPod, Android with ``Mobile``, Windows Phone, BlackBerry, feature
    phones, Opera Mini.
``desktop``
    a desktop OS: Windows, Mac OS X/macOS, Linux distributions, Chrome OS, BSDs, Solaris.
``other``
    everything else, including NULL and empty strings.

browser and os are ua-parser families; ``'Other'`` when ua-parser does not recognise them,
NULL only when there is no user agent (NULL or blank).
"""

from __future__ import annotations

import re

import pyarrow as pa
from ua_parser import parse

__all__ = ["CACHE_LIMIT", "DEVICE_CLASSES", "classify_user_agent", "classify_user_agents"]

DEVICE_CLASSES = ("desktop", "smartphone", "tablet", "bot", "other")

#: The cache is cleared when it grows past this many entries, bounding a long-running
#: process's memory even when fed random garbage user agents.
CACHE_LIMIT = 200_000

_Classified = tuple[str, str | None, str | None]
_CACHE: dict[str, _Classified] = {}

# Matched against the lower-cased user agent: Python's `re` is several times slower with
# IGNORECASE on patterns with this many alternatives.
_BOT = re.compile(
    # (?<!cu): the phone brand "Cubot" is not a bot.
    r"(?<!cu)bot(?:\b|/)|crawl|spider|slurp|archiver|curl/|wget/|python-requests|"
    r"python-urllib|python/|aiohttp|java/|go-http-client|libwww-perl|httpclient|"
    r"scrapy|headlesschrome|phantomjs|nagios|zabbix|check_http|pingdom|"
    r"facebookexternalhit|feedfetcher|mediapartners|feedparser|feedburner|\bfeed|\brss\b|"
    r"\+https?://|libfetch|http_request|php/|ruby|indy library|validator|embedly|portscout",
)
# "Tablet PC 2.0" is in many Windows 7 desktop Internet Explorer strings.
_TABLET = re.compile(r"ipad|tablet(?! pc)|kindle|silk/|playbook|nexus (?:7|9|10)\b")
_PHONE = re.compile(
    r"iphone|ipod|windows phone|windows mobile|blackberry|bb10|opera mini|"
    r"mobile safari|symbian|\bmobile\b|midp|j2me|maui|wap browser|up\.browser|openwave",
)
_PHONE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "Windows Mobile", "BlackBerry OS", "Symbian OS", "KaiOS"}
)
_DESKTOP_OS = re.compile(
    r"^(?:Windows(?! Phone| Mobile| CE| RT)|Mac OS X|macOS|Linux|Ubuntu|Debian|Fedora|"
    r"Red Hat|CentOS|SUSE|openSUSE|Mint|Arch Linux|Gentoo|Slackware|Mandriva|Chrome OS|"
    r"ChromeOS|FreeBSD|NetBSD|OpenBSD|Solaris|SunOS)",
)


def _family(value: object) -> str:
    """Family name, or 'Other' (ua-parser's legacy word) when ua-parser matched nothing.

    ua-parser 1.0 returns None for an unmatched part; 'Other' keeps NULL for "no user agent
    at all" only, so a GROUP BY tells the two apart.
    """
    family = getattr(value, "family", None)
    return str(family) if family else "Other"


def classify_user_agent(user_agent: str | None) -> tuple[str, str | None, str | None]:
    """(device, browser family, os family) of one user agent, cached per process."""
    if user_agent is None or not user_agent.strip():
        return ("other", None, None)
    cached = _CACHE.get(user_agent)
    if cached is not None:
        return cached
    result = parse(user_agent)
    device_family = _family(result.device)
    browser = _family(result.user_agent)
    os_family = _family(result.os)
    device = _device_class(user_agent, device_family, os_family)
    classified: _Classified = (device, browser, os_family)
    if len(_CACHE) >= CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[user_agent] = classified
    return classified


def _device_class(user_agent: str, device_family: str, os_family: str) -> str:
    lowered = user_agent.lower()
    if device_family == "Spider" or _BOT.search(lowered):
        return "bot"
    # Android browsers say "Mobile" on phones only; Android apps (Dalvik/...) never do.
    android_browser = "android" in lowered and lowered.startswith("mozilla/")
    if (
        _TABLET.search(lowered)
        or "tablet" in device_family.lower()
        or "kindle" in device_family.lower()
        or (android_browser and "mobile" not in lowered)
    ):
        return "tablet"
    # ua-parser's "Generic Feature Phone" also catches short script names: not trusted here.
    if (
        _PHONE.search(lowered)
        or os_family in _PHONE_OS
        or device_family in {"iPhone", "iPod", "iOS-Device"}
    ):
        return "smartphone"
    if _DESKTOP_OS.match(os_family):
        return "desktop"
    return "other"


def classify_user_agents(uas: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Columns user_agent, device, browser, os; one row per input value, same order.

    Meant for the DISTINCT user agents of a chunk; repeated values are cheap anyway (cache).
    """
    if isinstance(uas, pa.ChunkedArray):
        uas = uas.combine_chunks()
    if not pa.types.is_string(uas.type):
        uas = uas.cast(pa.string())
    rows = [classify_user_agent(value) for value in uas.to_pylist()]
    return pa.table(
        {
            "user_agent": uas,
            "device": pa.array([row[0] for row in rows], pa.string()),
            "browser": pa.array([row[1] for row in rows], pa.string()),
            "os": pa.array([row[2] for row in rows], pa.string()),
        }
    )
