"""The errors an operator can act on, by kind. ``aurora`` and ``runner`` raise them; only the CLI edge
(``auroractl.output.exit_code_for``) turns a kind into an exit code.

* :class:`ConfigurationError` — the configuration cannot be used (bad file, key, value, env var)
* :class:`InputError` — bad input other than config: an argument, a file or session given to a command
* :class:`NotFoundError` — a named thing (file, session, order, key) does not exist; a kind of input error
* :class:`UnavailableError` — something needed is not there right now (a gate, a feed, an exchange)
"""

from __future__ import annotations


class AuroraError(Exception):
    """Base of Aurora's domain errors. ``str(exc)`` is the one-paragraph message shown to the operator."""


class ConfigurationError(AuroraError):
    """The configuration cannot be used."""


class InputError(AuroraError):
    """Bad input (an argument, a file, a session dir) other than configuration."""


class NotFoundError(InputError):
    """A named file, session, order or key does not exist."""


class UnavailableError(AuroraError):
    """A service or resource the job needs cannot be reached now (retrying later may work)."""
