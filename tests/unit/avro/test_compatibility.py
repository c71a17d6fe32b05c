"""The contract only evolves FULL_TRANSITIVE compatibly: checked here against every released version."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from jackpot.streams.codec import avro_root, load_schemas
from jackpot.streams.registry import check_contract, full_transitive_problems, reading_problems, release

from .samples import schemas

SCHEMAS = schemas()
RELEASED = load_schemas()[1]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_is_full_transitive_compatible_with_its_released_versions(name):
    problems = check_contract()[name]
    assert problems == [], f"{name} breaks its released contract:\n" + "\n".join(problems)


def test_nothing_released_was_removed():
    assert set(RELEASED) <= set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_history_is_itself_compatible_and_numbered(name):
    history = RELEASED[name]
    assert [v for v, _ in history] == list(range(1, len(history) + 1))
    for i, (version, doc) in enumerate(history):
        assert full_transitive_problems(doc, history[:i]) == [], f"{name} v{version}"
        assert next(f for f in doc["fields"] if f["name"] == "event_version")["default"] == version


# ---------------------------------------------------------------- evolution
@pytest.fixture()
def contract(tmp_path) -> Path:
    """A copy of avro/ (schemas and release history) to evolve."""
    root = tmp_path / "avro"
    shutil.copytree(avro_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(root: Path, name: str, mutate) -> None:
    path = root / f"{name}.avsc"
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc, indent=2))


def bump(version: int):
    def mutate(doc):
        next(f for f in doc["fields"] if f["name"] == "event_version")["default"] = version

    return mutate


def add_optional(doc):
    doc["fields"].append(
        {"name": "jurisdiction", "type": ["null", "string"], "default": None, "doc": "Where the bet was placed."}
    )


def change_type(doc):
    next(f for f in doc["fields"] if f["name"] == "session_id")["type"] = "long"


def test_adding_an_optional_field_passes_and_can_be_released(contract):
    edit(contract, "BetPlaced", add_optional)
    edit(contract, "BetPlaced", bump(2))
    assert check_contract(contract)["BetPlaced"] == []
    written = release(contract)
    assert written == [contract / "released" / "BetPlaced" / "v2.avsc"]
    assert check_contract(contract)["BetPlaced"] == []
    assert release(contract) == []  # idempotent


def test_changing_a_type_fails_both_ways(contract):
    edit(contract, "BetPlaced", change_type)
    edit(contract, "BetPlaced", bump(2))
    problems = check_contract(contract)["BetPlaced"]
    assert (
        "new cannot read v1: BetPlaced.session_id: reader type: long not compatible with writer type: string"
        in problems
    )
    assert (
        "v1 cannot read new: BetPlaced.session_id: reader type: string not compatible with writer type: long"
        in problems
    )
    with pytest.raises(SystemExit, match="not released"):
        release(contract)
    assert not (contract / "released" / "BetPlaced" / "v2.avsc").exists()


def test_a_compatible_change_still_needs_its_version_number(contract):
    edit(contract, "BetPlaced", add_optional)
    assert check_contract(contract)["BetPlaced"] == [
        "event_version default is 1, expected 2 (changed since released v1)"
    ]


@pytest.mark.parametrize(
    "mutate, why",
    [
        (
            lambda d: d["fields"].append({"name": "jurisdiction", "type": "string"}),
            "new cannot read v1: BetPlaced.jurisdiction: missing from the writer schema",
        ),
        (
            lambda d: d.update(fields=[f for f in d["fields"] if f["name"] != "player_id"]),
            "v1 cannot read new: BetPlaced.player_id: missing from the writer schema",
        ),
        (
            lambda d: next(f for f in d["fields"] if f["name"] == "bet_amount")["type"].update(scale=2),
            "BetPlaced.bet_amount: writer type decimal(20,6) would be read as decimal(20,2)",
        ),
        (
            lambda d: next(f for f in d["fields"] if f["name"] == "bet_type")["type"]["symbols"].append("free_spin"),
            "v1 cannot read new: BetPlaced.bet_type: the writer's enum has symbol(s) the reader lacks",
        ),
        (lambda d: d.update(name="Bet"), "renamed from jackpot.events.BetPlaced to jackpot.events.Bet"),
    ],
)
def test_breaking_changes_are_named(contract, mutate, why):
    edit(contract, "BetPlaced", mutate)
    edit(contract, "BetPlaced", bump(2))
    problems = check_contract(contract)["BetPlaced"]
    assert any(why in p for p in problems), problems


def test_full_transitive_means_every_release_not_only_the_last():
    """v2 drops a field that had a default; v3 brings it back with another type: fine against
    v2 alone (FULL), refused against v1 (FULL_TRANSITIVE)."""
    v1 = {
        "type": "record",
        "name": "Probe",
        "namespace": "jackpot.events",
        "fields": [{"name": "note", "type": "string", "default": ""}],
    }
    v2 = copy.deepcopy(v1)
    v2["fields"] = []
    v3 = copy.deepcopy(v1)
    v3["fields"][0].update(type="long", default=0)
    assert full_transitive_problems(v2, [(1, v1)]) == []
    assert full_transitive_problems(v3, [(2, v2)]) == []
    problems = full_transitive_problems(v3, [(1, v1), (2, v2)])
    assert any(p.startswith("new cannot read v1: Probe.note") for p in problems), problems


def test_a_new_schema_must_be_released_with_its_first_version(contract):
    (contract / "Probe.avsc").write_text(
        json.dumps(
            {
                "type": "record",
                "name": "Probe",
                "namespace": "jackpot.events",
                "fields": [{"name": "event_version", "type": "int", "default": 1}],
            }
        )
    )
    assert "no released version" in check_contract(contract)["Probe"][0]
    assert release(contract) == [contract / "released" / "Probe" / "v1.avsc"]
    assert check_contract(contract)["Probe"] == []


def test_reading_problems_is_empty_for_identical_schemas():
    for name, doc in SCHEMAS.items():
        assert reading_problems(doc, doc) == [], name
