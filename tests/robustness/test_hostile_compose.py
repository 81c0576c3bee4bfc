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
