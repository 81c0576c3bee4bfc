"""Compose files YAML readers trip on, through the command line: several documents in one file,
tab indentation, duplicate keys. Each is a PL001 at its line and column and the rest is read."""
from __future__ import annotations

FILES = {
    # docker-compose 1.29 rejects a second document; Compose v2 merges the documents in order.
    "multi": 'services:\n  web:\n    image: x\n    ports: ["2323:23"]\n---\nservices:\n  ftp:\n    image: y\n'
             '    ports: ["2121:21"]\n',
    "tabs": 'services:\n  web:\n\timage: x\n\tports: ["2323:23"]\n',
    "duplicate": 'services:\n  web:\n    image: x\n    ports: ["2323:23"]\n    ports: ["2121:21"]\n',
}


def test_documents_tabs_and_duplicate_keys(run, tmp_path, good):
    """Regression: the second document was reported as invalid YAML, and its keys as duplicates
    of the first document's."""
    for folder, text in FILES.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "compose.yaml").write_text(text)
    result = run("check", "--isolated", "--select", "PL0,PL201", "--output-format", "json", tmp_path)
    assert result.code == 1 and result.err == ""
    assert [(f["path"].removeprefix(f"{tmp_path}/"), f["code"], f["line"], f["column"]) for f in result.json()] == [
        ("duplicate/compose.yaml", "PL201", 4, 13), ("duplicate/compose.yaml", "PL001", 5, 5),
        ("good.rules", "PL201", 2, 25),
        ("multi/compose.yaml", "PL201", 4, 13), ("multi/compose.yaml", "PL001", 5, 1),
        ("tabs/compose.yaml", "PL001", 3, 1), ("tabs/compose.yaml", "PL001", 4, 1), ("tabs/compose.yaml", "PL201", 4, 10)]
    messages = [f["message"] for f in result.json() if f["code"] == "PL001"]
    assert messages[0].startswith("duplicate key 'ports' (first defined at line 4)")
    assert messages[1].startswith("a second YAML document: Compose v1 rejects the file, v2 merges")
    assert messages[2] == messages[3] == "tab character in indentation: YAML indents with spaces only"


def test_thousands_of_services_extending_one_another_and_projects_including_one_another(run, tmp_path, good):
    """Regression: 3,000 services extending one another overflowed Python's stack (PL000, exit
    2). A chain of extends is now resolved without recursion, whatever its length; includes are
    followed 64 projects deep, with a PL006 where they stop, and the projects before are read."""
    chain = "services:\n" + "".join(f"  s{i}:\n    extends: s{i + 1}\n" for i in range(3000))
    (tmp_path / "extends").mkdir()
    (tmp_path / "extends" / "compose.yaml").write_text(chain + '  s3000:\n    image: x\n    ports: ["2323:23"]\n')
    includes = tmp_path / "includes"
    includes.mkdir()
    for i in range(200):
        include = f"include:\n  - p{i + 1}.yaml\n" if i < 199 else ""
        (includes / f"p{i}.yaml").write_text(f'{include}services:\n  s{i}:\n    image: x\n    ports: ["{2000 + i}:23"]\n')
    result = run("check", "--isolated", "--select", "PL0,PL201", "--output-format", "json",
                 tmp_path / "extends" / "compose.yaml", includes / "p0.yaml", good)
    assert result.code == 1 and result.err == ""
    found = [(f["path"].removeprefix(f"{tmp_path}/"), f["code"], f["line"]) for f in result.json()]
    extends = {f for f in found if f[0] == "extends/compose.yaml"}
    assert extends == {("extends/compose.yaml", "PL201", 6004)}  # the port of s3000, every service's
    assert sum(f[0] == "extends/compose.yaml" for f in found) == 3001
    included = [f for f in found if f[0].startswith("includes/")]
    assert sorted(included) == sorted([(f"includes/p{i}.yaml", "PL201", 6) for i in range(65)]
                                      + [("includes/p64.yaml", "PL006", 2)])
    (stop,) = [f["message"] for f in result.json() if f["code"] == "PL006"]
    assert stop.startswith("more than 64 projects include one another here")
    assert ("good.rules", "PL201", 2) in found


def test_merges_and_interpolations_nested_thousands_deep(run, tmp_path, good):
    """Regressions: 5,000 anchors merging one another, an anchor merged into itself, and 5,000
    defaults nested in one another (``${A:-${A:-...}}``) each overflowed Python's stack (PL000,
    exit 2). Merges are read from a stack, each mapping once; interpolation refuses nesting
    deeper than 32 with a PL001 at the 33rd ``${``."""
    merges = ['x-base0: &b0\n  image: x\n  ports: ["2323:23"]'] + [
        f"x-base{i}: &b{i}\n  <<: *b{i - 1}" for i in range(1, 5000)] + ["services:\n  web:\n    <<: *b4999"]
    files = {
        "merges": "\n".join(merges) + "\n",
        "self": 'services:\n  web: &w\n    image: x\n    ports: ["2323:23"]\n    <<: *w\n',
        "nested": 'services:\n  web:\n    image: x\n    ports:\n      - "' + "${A:-" * 5000 + "23" + "}" * 5000 + ':23"\n'
                  '      - "2121:21"\n',
    }
    for folder, text in files.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "compose.yaml").write_text(text)
    result = run("check", "--isolated", "--select", "PL0,PL201", "--output-format", "json",
                 *(tmp_path / folder / "compose.yaml" for folder in files), good)
    assert result.code == 1 and result.err == ""
    found = [(f["path"].removeprefix(f"{tmp_path}/"), f["code"], f["line"], f["column"]) for f in result.json()]
    assert found == [("good.rules", "PL201", 2, 25), ("merges/compose.yaml", "PL201", 3, 11),
                     ("nested/compose.yaml", "PL001", 5, 10 + 5 * 32), ("nested/compose.yaml", "PL201", 6, 9),
                     ("self/compose.yaml", "PL201", 4, 13)]
    (nested,) = [f["message"] for f in result.json() if f["code"] == "PL001"]
    assert nested == "interpolation nested more than 32 deep: portlint does not read it"


def test_an_anchor_defined_again_is_reported_and_nothing_reaches_standard_error(run, tmp_path, good):
    """Regression: ruamel.yaml warned on standard error, with its own path and ``<file>`` for the
    file's. Compose v1 rejects an anchor defined again, v2 reads later aliases as the later
    node: a PL001 at each definition again, and the aliases read as v2 does."""
    (tmp_path / "compose.yaml").write_text('x-a: &a\n  ports: ["2121:21"]\nx-b: &a\n  ports: ["2323:23"]\n'
                                           'services:\n  web:\n    image: x\n    <<: *a\n')
    result = run("check", "--isolated", "--select", "PL0,PL201", "--output-format", "json",
                 tmp_path / "compose.yaml", good)
    assert result.err == ""
    found = [(f["path"].rsplit("/", 1)[-1], f["code"], f["line"], f["column"]) for f in result.json()]
    assert found == [("compose.yaml", "PL001", 3, 6), ("compose.yaml", "PL201", 4, 11), ("good.rules", "PL201", 2, 25)]
    assert result.json()[0]["message"] == ("anchor &a was already defined at line 1: Compose v1 rejects the file, "
                                           "v2 reads the aliases after this line as this node")
