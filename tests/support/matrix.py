"""The option matrix: every combination of cookiecutter.json's choices, and covering subsets.

Nothing here bakes or runs anything; the subsets say which combinations each
test layer runs, and why that covers the rest (README: "The test suite").
"""

import itertools
import json
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[2]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
SOURCE_DIR = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"


def option_choices(context: dict) -> dict[str, list]:
    """Return each option that offers a choice, with its values, from a cookiecutter.json dict.

    A list is a choice variable (its values, default first); a boolean is a
    yes/no variable (both values, default first). Private keys are skipped.
    """
    choices = {}
    for key, value in context.items():
        if key.startswith("_"):
            continue
        if isinstance(value, list):
            choices[key] = list(value)
        elif isinstance(value, bool):
            choices[key] = [value, not value]
    return choices


def combinations(context: dict) -> list[dict]:
    """Return every combination of the choices in ``context`` (their cartesian product)."""
    choices = option_choices(context)
    return [
        dict(zip(choices, values, strict=True)) for values in itertools.product(*choices.values())
    ]


def combination_id(combination: dict) -> str:
    """Return a readable test id, e.g. ``redis-json-noauth-granian``."""
    parts = []
    for key, value in combination.items():
        if isinstance(value, bool):
            parts.append(key.removeprefix("use_") if value else "no" + key.removeprefix("use_"))
        else:
            parts.append(str(value))
    return "-".join(parts)


CHOICES = option_choices(COOKIECUTTER_JSON)
COMBINATIONS = combinations(COOKIECUTTER_JSON)
# Every answer's default: what `cookiecutter --no-input` bakes.
DEFAULT_COMBINATION = COMBINATIONS[0]


def covering(combinations: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Return one combination for each set of values of ``keys``, rotating the other options.

    The i-th set of ``keys`` values takes the i-th value (cyclically) of every
    other option, so each value of each option still appears. Used for a test
    layer whose outcome depends on ``keys`` only.
    """
    wanted = list(dict.fromkeys(tuple(c[key] for key in keys) for c in combinations))
    chosen = []
    for index, values in enumerate(wanted):
        rest = {
            option: options[index % len(options)]
            for option, options in CHOICES.items()
            if option not in keys
        }
        chosen.append(
            {option: {**rest, **dict(zip(keys, values, strict=True))}[option] for option in CHOICES}
        )
    return chosen


def values_of(subset: list[dict], keys: tuple[str, ...]) -> set[tuple]:
    """Return the sets of values of ``keys`` that ``subset`` runs."""
    return {tuple(combination[key] for key in keys) for combination in subset}


# The browser layer sees the server and the pages: one bake per (server, auth).
BROWSER_COMBINATIONS = covering(COMBINATIONS, ("asgi_server", "use_auth"))
# The live layer runs each consumer style on each layer under each server; auth
# alternates so that every server and every layer also runs with and without it.
LIVE_COMBINATIONS = covering(COMBINATIONS, ("asgi_server", "channel_layer", "consumer_style"))
# The live layer's database: PostgreSQL on three of its combinations, which
# take every server, every consumer style and both channel layers once each;
# SQLite on the other fifteen, which still take every server, style and layer.
# The database meets the rest only through the ORM calls that every style makes.
POSTGRES_COMBINATIONS = [
    next(
        c
        for c in LIVE_COMBINATIONS
        if (c["asgi_server"], c["consumer_style"], c["channel_layer"]) == values
    )
    for values in zip(
        CHOICES["asgi_server"],
        CHOICES["consumer_style"],
        itertools.cycle(CHOICES["channel_layer"]),
        strict=False,
    )
]
# The live tests whose outcome depends on the server alone (how it writes to a
# client that stops reading, how it reports its failures to Sentry): one live
# bake per server runs them, with sync consumers (the style whose consumers
# share one thread) and the in-memory layer, which keeps channels_redis's own
# rare loss when members leave mid-traffic (the baked README's "The channel
# layer") out of what they measure.
SERVER_COMBINATIONS = [
    c
    for c in LIVE_COMBINATIONS
    if (c["channel_layer"], c["consumer_style"]) == ("in-memory", "sync")
]
# The README's local steps write .env, migrate and run Django's checks: what
# they meet is the settings and the migrations, which the channel layer and
# auth decide. One bake per (layer, auth); the unit layer migrates every bake.
README_COMBINATIONS = covering(COMBINATIONS, ("channel_layer", "use_auth"))
# What each covering subset runs, by the keys it covers (a test checks it).
COVERED = {
    "live": [
        ("asgi_server", "channel_layer", "consumer_style"),
        ("asgi_server", "channel_layer", "use_auth"),
        ("consumer_style", "use_auth"),
    ],
    "browser": [("asgi_server", "use_auth")],
    "postgresql": [("asgi_server",), ("consumer_style",), ("channel_layer",)],
    "server": [("asgi_server",), ("use_auth",)],
    "readme": [("channel_layer", "use_auth"), ("asgi_server",), ("consumer_style",)],
}
# The deployment behind nginx: one redis bake per server, without auth (the
# consumer style does not change what the proxy does).
DEPLOY_COMBINATIONS = list(
    {
        c["asgi_server"]: c
        for c in reversed(LIVE_COMBINATIONS)
        if c["channel_layer"] == "redis" and not c["use_auth"]
    }.values()
)
# The Redis topologies (shards, Sentinel, TLS) and bad Redis settings: one bake.
REDIS_FORMS_COMBINATION = DEPLOY_COMBINATIONS[0]
# The bake that runs every layer again on the oldest and newest Pythons: one
# that the live and browser layers run anyway, with Redis and a multi-worker server.
PYTHONS_COMBINATION = next(
    c
    for c in BROWSER_COMBINATIONS
    if c in LIVE_COMBINATIONS and c["channel_layer"] == "redis" and c["asgi_server"] != "daphne"
)
# The bench's setups: every layer, style and server, without auth (a login
# happens before any consumer runs, so it changes no figure).
BENCH_COMBINATIONS = [c for c in COMBINATIONS if not c["use_auth"]]
