"""The hooks through which parsers, rules, reporters and catalog entries reach portlint.

portlint's own parsers, rules and reporters are registered through these very hooks; a
third-party package does the same by naming its module under the ``portlint`` entry-point group::

    [project.entry-points.portlint]
    mycompany = "mycompany_portlint"

and implementing any of the hooks below with ``@portlint.hookspecs.hookimpl``.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("portlint")
hookimpl = pluggy.HookimplMarker("portlint")


@hookspec
def portlint_register_parsers():
    """Return a list of :class:`portlint.parsers.Parser` instances.

    A parser owns one format (``name``), claims files by name (``patterns``) and by content
    (``sniff``), and turns a file into a :class:`portlint.model.Document`.
    """


@hookspec
def portlint_register_rules():
    """Return a list of :class:`portlint.rules.Rule` subclasses.

    portlint instantiates each with its options. Codes must be unique; third-party rules use
    their own prefix (not ``PL``).
    """


@hookspec
def portlint_register_reporters():
    """Return a list of :class:`portlint.reporters.Reporter` subclasses, selected by their
    ``name`` with ``--output-format``."""


@hookspec
def portlint_catalog_entries():
    """Return a list of :class:`portlint.catalog.CatalogEntry` for site-specific services
    ("8443/tcp is our admin UI"), which count like the IANA registry's entries, and/or
    :class:`portlint.catalog.Risk` to extend the risk lists the rules use (kinds ``cleartext``,
    ``amplification``, ``admin``, ``trojan``; each with a reference)."""


@hookspec(firstresult=True)
def portlint_detect_format(path, head, parsers):
    """Return the format name of the file at ``path`` (a str), whose first kilobytes are
    ``head`` (text), or None to let the next implementation decide. ``parsers`` maps the
    registered format names to their :class:`portlint.parsers.Parser`. The first answer wins; plugins run
    before the built-in detection, so they can claim ambiguous files (``rules.v4``, ``*.conf``).
    """
