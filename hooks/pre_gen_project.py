"""Validate the answers before cookiecutter writes any file.

Each check is a plain function that takes one answer and raises ``ValueError``
with a one-line message naming the field and what is allowed, so the template's
tests call them directly. Run as a hook, a failed check prints that line to
stderr and exits 1; cookiecutter then removes the directory it created for the
bake, so nothing is left behind.
"""

import json
import keyword
import re
import sys

# Top-level modules a baked project imports, directly or through its
# dependencies, and its own packages. A slug equal to one of them would shadow
# it whenever the project's parent directory is on sys.path.
PROJECT_MODULES = frozenset(
    {
        "asgiref",
        "autobahn",
        "channels",
        "channels_redis",
        "chat",
        "config",
        "daphne",
        "django",
        "environ",
        "msgpack",
        "playwright",
        "pytest",
        "pytest_asyncio",
        "pytest_django",
        "redis",
        "tests",
        "twisted",
        "websockets",
        "whitenoise",
    }
)

# Deliberately simple: one "@", no spaces, a dot in the domain.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def validate_project_slug(slug: str) -> None:
    """Check that ``slug`` can name the project directory and a Python module.

    Raises ``ValueError`` unless the slug is an ASCII Python identifier, is
    not a keyword, and is not the name of a standard-library module or of a
    module the project imports (``PROJECT_MODULES``).
    """
    allowed = "ASCII letters, digits and underscores, not starting with a digit"
    if not (slug.isascii() and slug.isidentifier()):
        raise ValueError(f"project_slug {slug!r} is not a valid Python identifier: use {allowed}.")
    if keyword.iskeyword(slug):
        raise ValueError(
            f"project_slug {slug!r} is a Python keyword: use another name ({allowed})."
        )
    if slug in sys.stdlib_module_names or slug in PROJECT_MODULES:
        raise ValueError(
            f"project_slug {slug!r} would shadow the {slug!r} module the project imports: "
            "choose another name."
        )


def validate_author_email(email: str) -> None:
    """Check that ``email`` looks like an address (name@domain.tld).

    Raises ``ValueError`` otherwise. It does not check that the address exists.
    """
    if not EMAIL_PATTERN.fullmatch(email):
        raise ValueError(
            f"author_email {email!r} does not look like an address: use name@example.com."
        )


def main(answers: dict[str, str]) -> int:
    """Run every check on ``answers``; print the first failure and return 1, else 0."""
    try:
        validate_project_slug(answers["project_slug"])
        validate_author_email(answers["author_email"])
    except ValueError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # cookiecutter renders this file before running it; tojson keeps any
    # quote or backslash in an answer from breaking the Python source.
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
