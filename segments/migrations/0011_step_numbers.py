# A segment's steps are numbered 1, 2, 3 … as the worksheet shows them; the steps a replay of
# saved criteria (or of a logged segment) ran are numbered 1, 2, … within that replay. Before,
# the replayed steps took numbers of the segment's own sequence (a reuse of 5 steps as step 1
# made the next step 7). Existing steps are renumbered; only segments with replays change.

from django.db import migrations, models


def _segments_with_replays(CriteriaStep):
    return CriteriaStep.objects.filter(parent__isnull=False).values("segment_id").distinct()


def _renumber(CriteriaStep, number) -> None:
    """Give every step of a segment with replays the number `number(steps)` returns, in chunks."""
    segment_ids = list(_segments_with_replays(CriteriaStep).values_list("segment_id", flat=True))
    for start in range(0, len(segment_ids), 500):
        chunk = segment_ids[start : start + 500]
        steps = list(
            CriteriaStep.objects.filter(segment_id__in=chunk).only("pk", "segment_id", "parent_id", "position")
        )
        changed = []
        for step, new in number(steps):
            if step.position != new:
                step.position = new
                changed.append(step)
        CriteriaStep.objects.bulk_update(changed, ["position"], batch_size=1000)


def _per_parent(steps):
    """Own steps 1, 2, … per segment; replayed steps 1, 2, … per replay, in their old order."""
    counters = {}
    for step in sorted(steps, key=lambda step: step.position):
        key = ("segment", step.segment_id) if step.parent_id is None else ("parent", step.parent_id)
        counters[key] = counters.get(key, 0) + 1
        yield step, counters[key]


def _global(steps):
    """Back: one sequence per segment, each replay followed by its replayed steps."""
    own = {step.pk: step.position for step in steps if step.parent_id is None}
    counters = {}
    order = sorted(
        steps,
        key=lambda step: (own.get(step.parent_id, step.position), step.parent_id is not None, step.position),
    )
    for step in order:
        counters[step.segment_id] = counters.get(step.segment_id, 0) + 1
        yield step, counters[step.segment_id]


def forward(apps, schema_editor):
    _renumber(apps.get_model("segments", "CriteriaStep"), _per_parent)


def backward(apps, schema_editor):
    _renumber(apps.get_model("segments", "CriteriaStep"), _global)


class Migration(migrations.Migration):

    dependencies = [
        ('segments', '0010_saved_step_recorded_counts'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='criteriastep',
            name='criteria_step_position_unique',
        ),
        migrations.RunPython(forward, backward),
        migrations.AddConstraint(
            model_name='criteriastep',
            constraint=models.UniqueConstraint(condition=models.Q(('parent__isnull', True)), fields=('segment', 'position'), name='criteria_step_number_unique'),
        ),
        migrations.AddConstraint(
            model_name='criteriastep',
            constraint=models.UniqueConstraint(condition=models.Q(('parent__isnull', False)), fields=('parent', 'position'), name='criteria_step_replayed_number_unique'),
        ),
    ]
