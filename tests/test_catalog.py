"""The catalog: built from its sources, faithful to the seed, IANA deciding statuses."""
from __future__ import annotations

import json
import re

import pytest

from portlint.catalog import ASSIGNED, RESERVED, UNASSIGNED, Catalog, CatalogEntry, catalog_path, load
from portlint.catalog.build import build
from portlint.model import MAX_PORT
from portlint.resources import data_dir


@pytest.fixture(scope="module")
def catalog():
    return load()


def test_compiled_catalog_is_up_to_date_with_its_sources(shared):
    iana = shared / "data" / "iana-service-names-port-numbers.csv"
    committed = catalog_path().read_text(encoding="utf-8")
    assert build(data_dir("catalog"), iana) == committed, "run: python -m portlint.catalog.build"


def test_every_port_of_the_scan_is_in_the_cleaned_seed(shared):
    """Every port number that starts an entry in the OCR'd scan is covered by seed.yaml (the
    scan lacks 350-699; 874, 886 and 887 are misread there as 875-877)."""
    from ruamel.yaml import YAML

    seed = YAML(typ="safe").load((data_dir("catalog") / "seed.yaml").read_text(encoding="utf-8"))
    covered = set()
    for item in seed["ports"]:
        lo, _, hi = str(item["port"]).partition("-")
        covered.update(range(int(lo), int(hi or lo) + 1))
    scan = (shared / "seed" / "port-numbers-seed.txt").read_text(encoding="utf-8")
    numbers = {int(m) for m in re.findall(r"^\s*(\d{1,4})\s+(?:TCP|UDP|ТСР|\\)", scan, re.M)}
    numbers = {n for n in numbers if n <= 1023}
    assert numbers and numbers <= covered, sorted(numbers - covered)
    assert covered >= set(range(0, 350)) | set(range(700, 874))


def test_seed_notes_are_kept_and_tagged(catalog):
    assert "Trojans - Sockets des Troie" in catalog.info(1, "tcp").notes
    assert "trojan" in catalog.info(1, "tcp").tags
    info = catalog.info(911, "tcp")
    assert "Dark Shadow (trojan)" in info.notes and "trojan" in info.tags
    assert any("Formerly used by Compressnet" in n for n in catalog.info(2, "tcp").notes)
    assert "unofficial-use" in catalog.info(98, "tcp").tags
    assert any("linuxconf" in n for n in catalog.info(98, "tcp").notes)


def test_iana_decides_the_status_and_both_sources_are_kept(catalog):
    info = catalog.info(22, "udp")
    assert info.status == ASSIGNED
    assert {(e.source, e.name) for e in info.entries} >= {("iana", "ssh"), ("seed", "pcAnywhere")}
    # The seed says 876 is a service; IANA (the current registry) says unassigned.
    info = catalog.info(876, "tcp")
    assert info.status == UNASSIGNED
    assert any(e.source == "seed" and "ICL coNETion" in e.name for e in info.entries)


def test_a_range_does_not_erase_the_ports_it_contains(catalog):
    """The seed's "875-885 Unassigned" keeps its own 876 entry, listed first."""
    seed_876 = [e for e in catalog.info(876, "udp").entries if e.source == "seed"]
    assert [(e.ports, e.status) for e in seed_876] == [("876", ASSIGNED), ("875-885", UNASSIGNED)]


def test_a_single_port_decides_over_a_range():
    catalog = Catalog([
        [5000, 5010, "", "iana", UNASSIGNED, "", "Unassigned", [], [], []],
        [5005, 5005, "tcp", "iana", ASSIGNED, "svc", "a service", [], [], []],
    ], [], {}, [], {})
    assert catalog.status(5005, "tcp") == ASSIGNED
    assert catalog.status(5005, "udp") == UNASSIGNED
    assert catalog.status(5004, "tcp") == UNASSIGNED


@pytest.mark.parametrize("port,proto,status", [
    (0, "tcp", RESERVED), (225, "udp", RESERVED), (241, "tcp", RESERVED), (1023, "tcp", RESERVED),
    (1024, "udp", RESERVED), (49151, "tcp", RESERVED), (23, "tcp", ASSIGNED), (4, "tcp", UNASSIGNED),
    (49160, "udp", UNASSIGNED),
])
def test_statuses(catalog, port, proto, status):
    assert catalog.status(port, proto) == status


def test_range_classes_and_ephemeral_presets(catalog):
    assert [c.name for c in (catalog.range_class(p) for p in (0, 1023, 1024, 49151, 49152, 65535))] == [
        "well-known", "well-known", "registered", "registered", "dynamic", "dynamic"]
    assert (catalog.ephemeral_range("iana").start, catalog.ephemeral_range("iana").end) == (49152, 65535)
    assert (catalog.ephemeral_range("linux").start, catalog.ephemeral_range("linux").end) == (32768, 60999)
    with pytest.raises(ValueError, match="unknown ephemeral-range preset"):
        catalog.ephemeral_range("plan9")


def test_service_names_resolve_like_etc_services(catalog):
    assert catalog.resolve("ssh", "tcp") == 22
    assert catalog.resolve("HTTP", "tcp") == 80
    assert catalog.resolve("www", "tcp") == 80
    assert catalog.resolve("http-alt", "tcp") == 8080  # /etc/services, not IANA's lowest (591)
    assert catalog.resolve("syslog", "udp") == 514
    assert catalog.resolve("syslog", "tcp") is None
    assert catalog.resolve("no-such-service") is None


def test_site_entries_count_like_iana_and_leave_the_shared_catalog_alone(catalog):
    site = catalog.extended([CatalogEntry(8443, 8443, "tcp", "site", ASSIGNED, "admin-ui", "our admin UI")])
    assert site.status(8443, "tcp") == ASSIGNED
    assert site.info(8443, "tcp").describe() == "pcsync-https, admin-ui"
    assert site.status(8443, "udp") == catalog.status(8443, "udp")
    assert all(e.source != "site" for e in catalog.info(8443, "tcp").entries)


def test_risks_are_data_with_references(catalog):
    cleartext = catalog.risks_for(23, "tcp", "cleartext")
    assert cleartext and cleartext[0].label == "telnet" and "SSH" in cleartext[0].detail
    assert all(r.reference for r in catalog.risks)
    assert catalog.risks_for(80, "tcp", "cleartext") == ()
    assert catalog.risks_for(25, "tcp", "cleartext") == ()


def parse_whole_file() -> Catalog:
    """The catalog with every line of ports.txt parsed up front, read as docs/catalog.md
    describes the file: comment lines, the header, then its sections in order."""
    text = catalog_path().read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = [line for line in text[:-1].split("\n") if not line.startswith("#")]
    header, sections, at = json.loads(lines[0]), {}, 1
    for name, count in header["lines"].items():
        sections[name], at = lines[at:at + count], at + count
    assert at == len(lines)
    assert all(re.match(r"^\d{5} ", line) for line in sections["ports"])
    rows = [json.loads(line) for line in sections["ranges"]] + [json.loads(line[6:]) for line in sections["ports"]]
    return Catalog(rows, [], {}, [], json.loads(sections["names"][0]))


def test_lookups_that_parse_only_their_lines_give_what_parsing_every_line_gives():
    lazy, full = load.__wrapped__(), parse_whole_file()  # a fresh catalog: nothing parsed yet
    for protocol in ("tcp", "udp"):
        ports = range(MAX_PORT + 1)
        assert [lazy.entries_for(p, protocol) for p in ports] == [full.entries_for(p, protocol) for p in ports]
    assert lazy.names == full.names


def test_service_names_are_read_at_the_first_name_resolved():
    catalog = load.__wrapped__()
    assert catalog.resolve("ssh", "tcp") == 22
    assert catalog.resolve("http-alt") == 8080


@pytest.mark.parametrize("damage", ["drop a port line", "add a line", "old format"])
def test_a_damaged_catalog_file_is_an_error_that_says_how_to_rebuild_it(tmp_path, damage):
    lines = catalog_path().read_text(encoding="utf-8").splitlines(keepends=True)
    if damage == "drop a port line":
        lines.pop()
        expected = "damaged"
    elif damage == "add a line":
        lines.append(lines[-1])
        expected = "damaged"
    else:
        header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        lines[header] = lines[header].replace('"format":2', '"format":1')
        expected = "format 1, expected 2"
    path = tmp_path / "ports.txt"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=expected):
        load.__wrapped__(str(path))
