"""How App Mesh matches an A/B cohort's cookie, shared by the constructs (the route's header match) and the rules
(its length, checked at validate)."""
from __future__ import annotations

import re

_REGEX_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")


def cookie_regex(name: str, value: str) -> str:
    """A regular expression the whole ``cookie`` header matches when it holds ``name=value`` among its cookies
    (RFC 6265: pairs separated by ``; ``). App Mesh's Envoy matches header regexes with RE2, over the whole value."""
    def esc(text: str) -> str:
        return _REGEX_SPECIAL.sub(r"\\\1", text)

    return rf"^(.*;\s*)?{esc(name)}={esc(value)}(;.*)?$"
