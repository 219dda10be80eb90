"""How values are shown to people: conflict notices that list only real differences, numbers and differences
formatted for reading, and avatars' initials."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from webapp.catalog.enums import ModuleStatus
from webapp.core.conflicts import differences, same
from webapp.core.templating import delta, human, initials

LABELS = {"name": "Name", "crew_size": "Crew size", "status": "Status", "launch": "Launch", "hazardous": "Hazardous"}


def test_a_conflict_lists_only_the_fields_that_really_differ_written_alike():
    saved = {
        "name": "Jezero Crew 1",
        "crew_size": 4,
        "status": ModuleStatus.DEGRADED,
        "launch": datetime(2031, 5, 1, 9, 30, tzinfo=UTC),
        "hazardous": False,
    }
    typed = {
        "name": "Jezero Crew 1 ",
        "crew_size": "4.0",
        "status": "degraded",
        "launch": "2031-05-01",
        "hazardous": "",
    }
    assert differences(saved, typed, LABELS) == []  # the same values typed another way are no conflict

    typed = {"name": "Jezero Crew 2", "crew_size": "5", "status": "failed", "launch": "2031-06-01", "hazardous": "y"}
    found = differences(saved, typed, LABELS)
    assert [(d.label, d.theirs, d.mine) for d in found] == [
        ("Name", "Jezero Crew 1", "Jezero Crew 2"),
        ("Crew size", "4", "5"),
        ("Status", "degraded", "failed"),
        ("Launch", "2031-05-01", "2031-06-01"),
        ("Hazardous", "no", "yes"),
    ]
    assert differences(saved, {"crew_size": "4"}, LABELS) == []  # fields not on the form are not compared


def test_numbers_compare_by_amount_and_empty_means_nothing():
    assert same(Decimal("0.5000"), "0.5") and same(12, "12.00") and same(None, "") and same("", None)
    assert not same(Decimal("0.5"), "0.51") and not same(None, "0")


def test_numbers_read_as_people_write_them():
    assert human(1928.4999) == "1,928.5"
    assert human(Decimal("41.00")) == "41"
    assert human(0.0123456) == "0.012"
    assert human(2.0e-13) == "< 0.001" and human(-2.0e-13) == "> -0.001"
    assert human(0) == "0" and human(None) == "–"
    assert delta(12.5) == "+12.5" and delta(-0.031) == "-0.031" and delta(0.0) == "same"


def test_initials_of_a_name():
    assert initials("Ada Lovelace") == "AL" and initials("Yuri Alexeyevich Gagarin") == "YG"
    assert initials("") == "?" and initials(None) == "?" and initials("ada") == "A"
