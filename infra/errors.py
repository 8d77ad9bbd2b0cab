"""Exceptions that mean "the user asked for something that cannot be done", as opposed to bugs.

The CLI turns these into a message and exit code 1 without a traceback (infra/cli/main.py).
"""


class UserError(Exception):
    """A refusal the user can act on: bad input, a refused change, a missing file."""

    def __init__(self, message: str, *, hint: str | None = None, details: object = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details


class SpecInvalid(Exception):
    """Raised by ``meshspec.infra.spec.load_spec_or_raise`` when a spec has errors; carries all of them (SpecError)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(e.render() for e in self.errors))
