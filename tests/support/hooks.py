"""The template's hooks as plain modules, whose functions and tables the tests use."""

import importlib.util

from .matrix import TEMPLATE_DIR


def load_hook(name: str):
    """Import ``hooks/<name>.py`` as a module, unrendered (its functions need no Jinja)."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE_DIR / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")
