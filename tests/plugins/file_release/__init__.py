"""``file-release``: a strategy outside ``bot/``, as a third party would write one (docs/writing-a-strategy.md).

Its world is a release directory the way Capistrano and many VM deploys lay it out: ``releases/<version>/``
each with a ``release.json``, and a ``current`` symlink naming the live one. Rolling back points ``current``
at an earlier release (one atomic rename); the emergency action takes the service offline by removing it.
Registered with ``bot.strategies.registry.register(SPEC)``, since a test ships no entry point.
"""

from tests.plugins.file_release.spec import SPEC

__all__ = ["SPEC"]
