"""Secrets told by their shape, not only by their name, and masked wherever a message would show them.

A literal value in ``env`` lands in templates, task definitions and logs. It is refused when
- its name says it is a secret (``PASSWORD``, ``SECRET``, ``TOKEN``, ``API_KEY``, ``*_PASS``, ``*_PWD``, …),
  whatever the value;
- its value has the shape of one, whatever the name (``SHAPES``): credentials inside a URL, an AWS access key
  id or secret access key, a private key block, a token with a known prefix (GitHub, GitLab, Slack, Stripe,
  npm, PyPI, SendGrid, OpenAI, Anthropic, Google API keys, Hugging Face, Shopify, DigitalOcean, a JWT);
- its name suggests a secret (``*_KEY``, ``*_DSN``, ``*_AUTH``, ``*_CRED``, ``*_SALT``, …) and the value looks
  random (``looks_random``), so ``CACHE_KEY: user-profile`` stays fine.
A service's ``notSecret`` list names variables reviewed as fine (a public DSN, a test fixture's key).

Why not detect-secrets' plugins (Yelp's, or Bridgecrew's fork that checkov uses)? Importing them costs about
0.5 s (they pull in requests), half of validate's 1 s budget; their plugins scan lines of source code (quoted
strings, assignments) rather than one value with its name. The rules here are the same shapes, kept small, and
tests/test_spec_secrets.py checks that every sample detect-secrets' matching plugins flag is refused here too.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterator

# Names that say the value is a secret: any literal is refused.
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY|CLIENT_?SECRET"
    r"|(?:^|_)(?:PASS|PWD)$")
# Names that suggest one: a literal is refused when it looks random.
SECRETISH_NAME = re.compile(r"(?:^|_)(?:KEY|KEYS|DSN|AUTH|CRED|CREDS|SALT|SIGNATURE|SIGNING|CERT|SESSION|HMAC|PEPPER|"
                            r"CONN|CONNECTION_STRING|CONN_STR|PRIVATE|SEED)(?:$|_)")

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s:/?#@]*):(?P<secret>[^\s/?#@]+)@")
_PRIVATE_KEY = re.compile(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")
_AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?P<prefix>AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)"
                         r"[A-Z0-9]{16}(?![A-Z0-9])")
_AWS_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
# Known token prefixes (the services' own documented formats); the prefix is shown, the rest masked.
_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?P<prefix>"
    r"gh[pousr]_(?=[A-Za-z0-9_]{36})|github_pat_(?=[A-Za-z0-9_]{22,})|glpat-(?=[A-Za-z0-9_-]{20})"
    r"|xox[abposr]-(?=[0-9A-Za-z-]{10,})|hooks\.slack\.com/services/(?=T[A-Za-z0-9_]+/)"
    r"|[rs]k_live_(?=[0-9A-Za-z]{20,})|[rs]k_test_(?=[0-9A-Za-z]{20,})|npm_(?=[A-Za-z0-9]{36})"
    r"|pypi-(?=AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})|SG\.(?=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})"
    r"|sk-ant-(?=[A-Za-z0-9_-]{20,})|sk-proj-(?=[A-Za-z0-9_-]{20,})|sk-(?=[A-Za-z0-9]{20}T3BlbkFJ)"
    r"|AIza(?=[0-9A-Za-z_-]{35})|hf_(?=[A-Za-z0-9]{34})|shp(?:at|ca|pa|ss)_(?=[a-fA-F0-9]{32})"
    r"|dop_v1_(?=[a-f0-9]{64})|eyJ(?=[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.)"
    r")[A-Za-z0-9_./+=-]+")

MASK = "****"


def shape(value: str) -> str | None:
    """What kind of credential ``value`` carries by its shape alone, else None."""
    if _URL_CREDENTIALS.search(value):
        return "a password inside a URL"
    if _PRIVATE_KEY.search(value):
        return "a private key block"
    if _AWS_KEY_ID.search(value):
        return "an AWS access key id"
    if _TOKENS.search(value):
        return "a token with a known prefix"
    for m in _AWS_SECRET_KEY.finditer(value):
        if _mixed(m.group()):
            return "an AWS secret access key (40 random characters)"
    return None


def _mixed(text: str) -> bool:
    """Upper and lower case letters and digits together, as a random key has and a hex digest does not."""
    return (any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)
            and entropy(text) >= 4.0)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


_WORDS = re.compile(r"[A-Za-z][a-z]+|[A-Z]{2,}|[0-9]{1,6}")


def looks_random(value: str) -> bool:
    """A value of at least 12 characters that is not made of words, small numbers and separators, and whose
    characters are spread (entropy at least 3 bits per character): a generated password or key, not
    ``user-profile-cache`` or ``eu-west-1``."""
    if len(value) < 12 or entropy(value) < 3.0:
        return False
    tokens = re.split(r"[-_./:@ ,;=]+", value)
    wordy = sum(len(t) for t in tokens if _WORDS.fullmatch(t) or (t.isalpha() and len(t) <= 3))
    return wordy < 0.6 * sum(len(t) for t in tokens)


def finding(name: str, value: object) -> str | None:
    """Why the literal ``value`` of the variable ``name`` is a secret, else None."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value)
    upper = name.upper()
    if SECRET_NAME.search(upper) and text:
        return f"its name says it is a secret ({name})"
    kind = shape(text)
    if kind:
        return f"the value has the shape of {kind}"
    if SECRETISH_NAME.search(upper) and looks_random(text):
        return f"its name suggests a secret ({name}) and the value looks random"
    return None


def mask(text: str) -> str:
    """``text`` with every credential shape masked (a URL keeps its user and host, a token its public prefix)."""
    if not text or not _MAYBE.search(text):
        return text
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _PRIVATE_KEY_BODY.sub(lambda m: m[1] + MASK, text)
    text = _AWS_KEY_ID.sub(lambda m: m["prefix"] + MASK, text)
    text = _TOKENS.sub(lambda m: m["prefix"] + MASK, text)
    return _AWS_SECRET_KEY.sub(lambda m: MASK if _mixed(m.group()) else m.group(), text)


_PRIVATE_KEY_BODY = re.compile(r"(-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----)[\s\S]*?(?=-----END|$)")
# a cheap first look, so that most messages cost one search
_MAYBE = re.compile(r"://|-----BEGIN|A[A-Z0-9]{3}[A-Z0-9]{16}|[A-Za-z0-9/+]{20}|gh|gl|xox|_live_|_test_|npm_|pypi-"
                    r"|SG\.|sk-|AIza|hf_|shp|dop_|eyJ|hooks")


def masked_value(value: object) -> str:
    """How a refused literal is shown: its credential parts masked, or only its length."""
    text = str(value)
    shown = mask(text)
    if shown != text:
        return shown if len(shown) <= 80 else shown[:79] + "…"
    return f"{MASK} (not shown)"


def findings(env: dict[str, object], reviewed: set[str] | frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    """(variable, why) for each literal in ``env`` that is a secret, except those in ``reviewed``."""
    for name, value in env.items():
        if name in reviewed:
            continue
        why = finding(name, value)
        if why:
            yield name, why
