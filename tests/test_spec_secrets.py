"""Secrets in env told by their name and by their shape, never shown, and notSecret for a reviewed false positive
(meshspec.infra.spec.secrets)."""
from __future__ import annotations

import json
import subprocess

import pytest

from meshspec.infra.spec import load_text
from meshspec.infra.spec import secrets

from .conftest import TODAY

HEAD = """\
apiVersion: meshspec/v1
project: shop
aws:
  region: eu-west-1
  clusters: [{name: core, platform: ecs}]
services:
  a:
    cluster: core
    majors: {v1: {contract: c.json}}
    versions: [{name: a, image: img:1, traffic: 100}]
"""

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2\n-----END RSA PRIVATE KEY-----"
# (variable, value, refused, what the error shows as given)
CASES = [
    ("DB_PASS", "Zr9#kq2!Lw8pX4vN", True, "**** (not shown)"),
    ("DB_PWD", "hunter2", True, "**** (not shown)"),
    ("DB_PASSWORD", "hunter2", True, "**** (not shown)"),
    ("DATABASE_URL", "postgres://shop:s3cretPassw0rd@db.internal:5432/shop", True,
     "postgres://shop:****@db.internal:5432/shop"),
    ("REDIS", "redis://:s3cret@cache:6379/0", True, "redis://:****@cache:6379/0"),
    ("AWS_ID", "AKIAIOSFODNN7EXAMPLE", True, "AKIA****"),
    ("UPLOAD", AWS_SECRET, True, "****"),
    ("TLS", PEM, True, "-----BEGIN RSA PRIVATE KEY-----****-----END RSA PRIVATE KEY-----"),
    ("GH", "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", True, "ghp_****"),
    ("SLACK", "xoxb-123456789012-abcdefABCDEF1234", True, "xoxb-****"),
    ("PAYMENTS", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", True, "sk_live_****"),
    ("MAPS", "AIza" + "SyA-1234567890abcdefghijklmnopqrstu", True, "AIza****"),
    ("ID", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", True,
     "eyJ****"),
    ("SIGNING_KEY", "9fQ2xLr7Tz0pWv4K", True, "**** (not shown)"),
    ("SENTRY_DSN", "https://3f1c2a9b7d4e4f0a8c6b5d2e1f0a9b8c@o42.ingest.sentry.io/7", True, "**** (not shown)"),
    # fine: names or values that only look like it
    ("CACHE_KEY", "user-profile", False, None),
    ("S3_KEY", "images/thumbnails/large", False, None),
    ("PARTITION_KEY", "tenant_id", False, None),
    ("LOG_LEVEL", "info", False, None),
    ("UPSTREAM", "https://api.example.com/v1", False, None),
    ("COMMIT", "9fceb02d0ae598e95dc970b74767f19372d61af8", False, None),  # a git hash: hex only
    ("REGION", "eu-west-1", False, None),
    ("BYPASS", "true", False, None),
]


def load(env_yaml: str, extra: str = ""):
    return load_text(HEAD + f"    env: {env_yaml}\n" + extra, file="spec.yaml", today=TODAY)


@pytest.mark.parametrize("name,value,refused,shown", CASES, ids=[c[0] for c in CASES])
def test_a_secret_is_refused_by_its_name_or_shape_and_never_shown(name, value, refused, shown):
    result = load(json.dumps({name: value}))
    if not refused:
        assert result.errors == [], [e.render() for e in result.errors]
        return
    [err] = result.errors
    assert (err.line, err.key_path, err.code) == (11, f"services.a.env.{name}", "secret-literal")
    assert err.message.startswith(f"{name} looks like a secret: ")
    assert err.given == shown
    assert err.allowed == "a reference under secrets:"
    assert "notSecret" in err.hint and "meshspec help spec" in err.hint
    secret_part = value.split("@")[0].split(":")[-1] if "://" in value else value
    assert secret_part not in err.render()
    assert secret_part not in json.dumps(err.to_json())


def test_the_message_says_which_rule_took_it():
    [by_name] = load('{DB_PASS: "x"}').errors
    [by_shape] = load('{DATABASE_URL: "postgres://u:p4ss@h/db"}').errors
    [by_entropy] = load('{SIGNING_KEY: "9fQ2xLr7Tz0pWv4K"}').errors
    assert "its name says it is a secret (DB_PASS)" in by_name.message
    assert "the value has the shape of a password inside a URL" in by_shape.message
    assert "its name suggests a secret (SIGNING_KEY) and the value looks random" in by_entropy.message


def test_not_secret_marks_a_reviewed_false_positive_and_takes_effect():
    env = '{SENTRY_DSN: "https://3f1c2a9b7d4e4f0a8c6b5d2e1f0a9b8c@o42.ingest.sentry.io/7"}'
    assert [e.code for e in load(env).errors] == ["secret-literal"]
    result = load(env, "    notSecret: [SENTRY_DSN]\n")
    assert result.ok and result.problems == []
    assert result.spec.services["a"].not_secret == ["SENTRY_DSN"]


def test_not_secret_names_a_variable_under_env():
    [err] = load("{LOG_LEVEL: info}", "    notSecret: [LOG_LEVL]\n").errors
    assert (err.line, err.key_path, err.code) == (12, "services.a.notSecret[0]", "not-secret-unknown")
    assert err.allowed == "LOG_LEVEL"


def test_a_not_secret_entry_validate_would_not_refuse_anyway_is_a_warning():
    result = load("{LOG_LEVEL: info}", "    notSecret: [LOG_LEVEL]\n")
    assert result.ok
    [w] = result.warnings
    assert (w.key_path, w.code) == ("services.a.notSecret[0]", "not-secret-unneeded")


def test_credentials_in_an_image_or_source_are_refused_and_masked():
    text = HEAD.replace("image: img:1", "image: 'https://bot:ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5@reg.example/img:1'")
    [err] = load_text(text, file="spec.yaml", today=TODAY).errors
    assert (err.key_path, err.code) == ("services.a.versions[0].image", "secret-literal")
    assert "aB3dE5fG7" not in err.render()


def test_every_message_masks_credential_shapes():
    # a token pasted as a key: the unknown-key error does not repeat it
    result = load_text(HEAD.replace("    cluster: core\n", "    cluster: core\n    ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5: 1\n"),
                       file="spec.yaml", today=TODAY)
    rendered = "\n".join(e.render() for e in result.errors)
    assert "unknown key" in rendered and "aB3dE5fG7" not in rendered


def test_a_wrong_typed_secret_literal_is_not_shown_either():
    result = load('{DB_PASS: [hunter2]}')
    assert result.errors and all("hunter2" not in e.render() for e in result.errors)


def test_mask_keeps_what_is_no_secret():
    assert secrets.mask("postgres://shop:pw@db:5432/x") == "postgres://shop:****@db:5432/x"
    assert secrets.mask("plain text, eu-west-1") == "plain text, eu-west-1"


def test_looks_random_tells_keys_from_words():
    assert secrets.looks_random("9fQ2xLr7Tz0pWv4K")
    assert secrets.looks_random("f3b8c1d9e2a7465b9c0d1e2f3a4b5c6d")
    for word in ("user-profile-cache", "catalog/images/thumbnails", "eu-west-1", "PRIMARY_TENANT_ID"):
        assert not secrets.looks_random(word), word


# Samples that detect-secrets' plugins for the same shapes flag (Yelp's rules, as Bridgecrew's fork ships them).
PARITY = {
    "AWSKeyDetector": ["AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"],
    "BasicAuthDetector": ["https://user:s3cret@example.com/x", "mysql://root:hunter2@10.0.0.1:3306/db"],
    "PrivateKeyDetector": [PEM, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"],
    "GitHubTokenDetector": ["ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", "ghs_" + "Z" * 36],
    "SlackDetector": ["xoxb-123456789012-abcdefABCDEF1234",
                      "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"],
    "StripeDetector": ["sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "rk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"],
    "JwtTokenDetector": ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
    "SendGridDetector": ["SG." + "a" * 22 + "." + "b" * 43],
    "NpmDetector": ["npm_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"],
}
PLUGIN_MODULES = {"AWSKeyDetector": "aws", "BasicAuthDetector": "basic_auth", "PrivateKeyDetector": "private_key",
                  "GitHubTokenDetector": "github_token", "SlackDetector": "slack", "StripeDetector": "stripe",
                  "JwtTokenDetector": "jwt", "SendGridDetector": "sendgrid", "NpmDetector": "npm"}
PARITY_PROBE = """
import importlib, json, sys
cases, modules = json.loads(sys.stdin.read())
out = {}
for plugin, samples in cases.items():
    cls = getattr(importlib.import_module("detect_secrets.plugins." + modules[plugin]), plugin)
    out[plugin] = [bool(list(cls().analyze_string(s))) for s in samples]
print(json.dumps(out))
"""


def test_what_detect_secrets_flags_for_these_shapes_is_refused_here_too():
    from .test_checkov import checkov_binary

    python = str(__import__("pathlib").Path(checkov_binary()).parent / "python")
    proc = subprocess.run([python, "-c", PARITY_PROBE], input=json.dumps([PARITY, PLUGIN_MODULES]),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    flagged = json.loads(proc.stdout)
    checked = 0
    for plugin, samples in PARITY.items():
        for sample, theirs in zip(samples, flagged[plugin]):
            assert theirs, (plugin, sample)  # the sample is one of theirs
            assert secrets.shape(sample), (plugin, sample)
            checked += 1
    assert checked == sum(len(v) for v in PARITY.values())
