"""What the template's tests and ``make bench`` share, one module per subject.

- ``matrix``: the options of cookiecutter.json, their combinations, and the
  covering subset each test layer runs;
- ``servers``: throwaway processes (Redis, and any server a test starts), free
  ports, and the one way to wait until a server is ready;
- ``bakes``: baking a combination, its virtualenv, running its commands and
  its own test layers;
- ``deployment``: the shipped nginx site and systemd unit, run for real;
- ``containers``: podman on a store of its own, with base images made from
  Debian's packages.
"""
