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

    JSON's escapes (``\\"``, ``\\\\``; the pre-gen hook refuses control
    characters) are TOML's too. Jinja's ``tojson`` is not used: it writes an
    emoji as a surrogate pair (``\\ud83d\\ude00``), which TOML refuses.
    """
    return json.dumps(value, ensure_ascii=False)
