"""Validate the answers before cookiecutter writes any file.

Each check is a plain function that takes one answer (the one-line check also
takes the field's name) and raises ``ValueError`` with a one-line message naming
the field and what to do, so the template's tests call them directly. Run as
a hook, a failed check prints that line to stderr and exits 1; cookiecutter
then removes the directory it created for the bake, so nothing is left behind.
"""

import json
import keyword
import re
import sys
import unicodedata

# Top-level modules a baked project imports, directly or through its
# dependencies, and its own packages. A slug equal to one of them would shadow
# it whenever the project's parent directory is on sys.path.
PROJECT_MODULES = frozenset(
    {
        "accounts",
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

# The answers a person types as one line of text; each lands on one line of the
# README or pyproject.toml. (The email's own pattern refuses whitespace, but not
# every control character.)
ONE_LINE_FIELDS = ("project_name", "description", "author_name", "author_email")

# Characters that str.splitlines() breaks a line at; all but the last two are
# control characters too (the two are Unicode's line and paragraph separators).
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

# Deliberately simple: one "@", no spaces, a dot in the domain.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def validate_one_line(field: str, value: str) -> None:
    """Raise ``ValueError`` unless the answer ``value`` to ``field`` is one line of printable text.

    Refused: line breaks (any ``str.splitlines`` breaks at), other control
    characters (category Cc) and lone surrogates (Cs: bytes that were not
    UTF-8), since the answer lands on one README line and in TOML strings
    (the ``toml_string`` filter relies on it); and a blank ``project_name``,
    the README title. Quotes, backslashes, any script and markup are allowed.
    """
    for char in value:
        if char in LINE_BREAKS:
            raise ValueError(f"{field} {value!r} holds a line break: answer on one line.")
        category = unicodedata.category(char)
        if category == "Cc":
            raise ValueError(f"{field} {value!r} holds the control character {char!r}: remove it.")
        if category == "Cs":
            raise ValueError(
                f"{field} {value!r} holds {char!r}, which is not a character "
                "(input that is not UTF-8): answer in UTF-8."
            )
    if field == "project_name" and not value.strip():
        raise ValueError(f"project_name {value!r} is blank: give the project a name.")


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
    """Run every check on ``answers``; print the first failure and return 1, else 0.

    The free-text answers are checked first, so that a name holding a line
    break is reported as such rather than through the slug derived from it.
    """
    try:
        for field in ONE_LINE_FIELDS:
            validate_one_line(field, answers[field])
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
