"""The synthetic study's wearable fixtures: for each user who wears a device (``synthetic.context_truth``'s
``wearableUsers``), an Apple Health ``export.zip`` and the Oura and WHOOP API v2 documents of the same days, written
from the user's device-measured days (``synthetic.wearable_truth``), with that table beside them.

Where: ``<folder of the ground truth>/wearables/<userId>/`` (``data/demo/wearables/`` for the demo), as
``export.zip``, ``oura.json`` and ``whoop.json`` (``{collection: [documents]}``, what ``tests/stand_in/wearables.py``
serves) and ``days.csv`` (the truth an import must give back).

Why written from the ground truth's recorded configuration, at ``americano prepare``, and not while seeding: prepare
leaves an already seeded database alone, so a database seeded before the fixtures existed (or by ``americano seed``,
which writes none: a benchmark-sized study should not pay a second per user) still gets them, and they always belong
to the study the database holds (same seed, days and end date, checked by user id). A ground truth written before the
context truth existed gains it here. The files are rewritten each time (about a second a user): the writers are
deterministic, so a rewrite carries the same days and a re-import changes nothing.

Days are the study's UTC days, written in the time zone the pipeline cuts days in (``settings.timezone_name``), the
one the import reads them back with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from americano_pipeline.demo.apple_health_export import write_export
from americano_pipeline.demo.seeding import write_atomic, write_json_atomic
from americano_pipeline.demo.synthetic import (WEARABLE_USERS, WearableTruth, config_of, context_truth,
                                               wearable_truth)
from americano_pipeline.demo.wearable_fixtures import oura_documents, whoop_documents


@dataclass(frozen=True)
class Fixtures:
    """One wearing user's fixture files (module doc) and the time zone their days are written in."""

    user_id: str
    directory: Path
    timezone: str
    days: int

    @property
    def export(self) -> Path:
        return self.directory / "export.zip"

    @property
    def oura(self) -> Path:
        return self.directory / "oura.json"

    @property
    def whoop(self) -> Path:
        return self.directory / "whoop.json"

    @property
    def truth(self) -> Path:
        return self.directory / "days.csv"


def write_fixtures(truth: WearableTruth, directory: Path, *, timezone: str, seed: int) -> Fixtures:
    """``truth``'s export, Oura and WHOOP documents and table in ``directory`` (each file written atomically)."""
    fixtures = Fixtures(truth.user_id, directory, timezone, len(truth.days))
    write_atomic(fixtures.export, lambda path: write_export(path, truth.days, tz=timezone, seed=seed))
    write_json_atomic(fixtures.oura, oura_documents(truth.days, user_id=truth.user_id, timezone_name=timezone))
    write_json_atomic(fixtures.whoop, whoop_documents(truth.days, user_id=truth.user_id, timezone_name=timezone))
    write_atomic(fixtures.truth, lambda path: truth.days.to_csv(path, index=False, date_format="%Y-%m-%d"))
    return fixtures


def demo_fixtures(ground_truth_path: Path, *, timezone: str) -> list[Fixtures]:
    """The fixtures of every wearing user of the study ``ground_truth_path`` describes, (re)written beside it; none
    when there is no ground truth (a database seeded elsewhere). Adds the context truth to a ground truth that lacks
    it. A wearing user whose id differs from the one the configuration gives raises ValueError: the file does not
    describe a study this code generates."""
    if not ground_truth_path.exists():
        return []
    recorded = json.loads(ground_truth_path.read_text())
    config = config_of(recorded)
    wearing = len(recorded["context"]["wearableUsers"]) if "context" in recorded else WEARABLE_USERS
    truths = [wearable_truth(config, index) for index in range(min(config.users, wearing))]
    if "context" not in recorded:
        recorded["context"] = context_truth([truth.user_id for truth in truths])
        write_json_atomic(ground_truth_path, recorded)
    expected = recorded["context"]["wearableUsers"]
    if [truth.user_id for truth in truths] != expected:
        raise ValueError(f"{ground_truth_path}: its wearing users {expected} are not the ones its configuration "
                         f"(seed {config.seed}, {config.users} users) generates: {[t.user_id for t in truths]}")
    directory = ground_truth_path.parent / "wearables"
    return [write_fixtures(truth, directory / truth.user_id, timezone=timezone, seed=config.seed)
            for truth in truths]

