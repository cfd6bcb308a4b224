"""Jinja filters of this template, loaded by cookiecutter through ``_extensions``.

cookiecutter puts the template directory on ``sys.path`` while it renders (in
``cookiecutter.main``, which the CLI and the Python API both go through), so
``cookiecutter.json`` names this module's filters as ``local_extensions.<name>``,
as cookiecutter's "Local Extensions" docs show.
"""

import json

from cookiecutter.utils import simple_filter


@simple_filter
def toml_string(value: str) -> str:
    """Return ``value`` as a TOML basic string, quotes included: ``a "b"`` gives ``"a \\"b\\""``.

    ``json.dumps`` escapes only ``"``, ``\\`` and characters below U+0020, and with
    ``ensure_ascii=False`` writes every other character as itself. The pre-gen
    hook has refused answers holding a control character or a lone surrogate
    before any file is rendered, so the result holds no escape but ``\\"`` and
    ``\\\\``: a valid TOML basic string and a valid Python string literal.
    Jinja's ``tojson`` is not: it writes a character beyond U+FFFF (an emoji)
    as a JSON surrogate pair such as ``\\ud83d\\ude00``, which TOML refuses.
    """
    return json.dumps(value, ensure_ascii=False)
