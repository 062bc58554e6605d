"""Migrations of the segments app that change data."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("segments", "0010_saved_step_recorded_counts")
AFTER = ("segments", "0011_step_numbers")


def migrate(target: tuple[str, str]):
    """Migrate the segments app to `target`; the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_existing_steps_are_numbered_as_the_worksheet_shows_them_and_back():
    leaf = MigrationExecutor(connection).loader.graph.leaf_nodes("segments")
    try:
        apps = migrate(BEFORE)
        Segment, CriteriaStep = apps.get_model("segments", "Segment"), apps.get_model("segments", "CriteriaStep")
        replayed, plain = Segment.objects.create(no="SEG1"), Segment.objects.create(no="SEG2")
        # before: a reuse as step 1 whose two replayed steps took numbers 2 and 3; the next step 4
        reuse = CriteriaStep.objects.create(segment=replayed, position=1, action="reuse_criteria", source="X")
        for position in (2, 3):
            CriteriaStep.objects.create(segment=replayed, position=position, action="add", parent=reuse)
        CriteriaStep.objects.create(segment=replayed, position=4, action="reduce", filter="no=P1")
        CriteriaStep.objects.create(segment=plain, position=1, action="add")

        def numbers():
            rows = CriteriaStep.objects.order_by("pk").values_list("segment__no", "position", "parent_id")
            return [(no, position, parent is not None) for no, position, parent in rows]

        migrate(AFTER)
        assert numbers() == [
            ("SEG1", 1, False),
            ("SEG1", 1, True),
            ("SEG1", 2, True),
            ("SEG1", 2, False),
            ("SEG2", 1, False),
        ]

        migrate(BEFORE)
        assert numbers() == [
            ("SEG1", 1, False),
            ("SEG1", 2, True),
            ("SEG1", 3, True),
            ("SEG1", 4, False),
            ("SEG2", 1, False),
        ]
    finally:
        MigrationExecutor(connection).migrate(leaf)
