"""The Word mail merge in `manage.py bench` (issue 6, "Performance"), beside docxtpl.

Three operations, on a bench segment of the demo template LETTER (the sample letter in every
language, so each line is merged from its language's document):

- one worker: `segments.merge.merge_write` of the first L lines (L = 200 at 100,000 contacts)
  into one combined .docx, in one worker process (read the lines, merge fields, render each
  letter, combine). Floor: docxtpl's own rate on one core, the way docxtpl users render:
  `DocxTemplate(template).render(context)` then `save()` for every letter, re-preparing the
  template each time (with the contexts made beforehand and our sandboxed environment, whose
  filters the sample letter uses). The note gives both rates in letters per second.
- two workers: two worker processes at once, each merging half of the first M lines (M = 2,000
  at 100,000 contacts) as a merge job would; floor: one worker process merging all M. The
  note gives the rate, its ratio to one worker and to docxtpl's rate from the first row.
- combine: `interactions.letters.combine_docx` of C letters (C = 10,000 at 100,000 contacts;
  100 distinct rendered sample letters over and over) into a file, in its own process, whose
  peak resident memory (VmHWM) the note gives. Floor: the least combining needs, each
  letter's body cut out by a text search and written into one zip member, nothing remapped.

The workers (`bench/merge_worker.py`) start, set Django up and get ready before the clock
starts: the times are the work alone. Each worker process uses one core; the machine the
numbers in bench/README.md come from has two, shared with whatever else runs.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

from django.conf import settings

from interactions.models import Document
from interactions.wordtemplates import ENV
from segments.documents import with_word_document
from segments.merge import line_contexts
from segments.models import SegmentLine

from . import segment_operations as segment_ops
from .harness import Context, operation
from .merge_worker import sample_letters


def sizes(ctx: Context) -> dict[str, int]:
    """Letters per operation: the issue's sizes at 100,000 contacts, smaller for a smoke run."""
    return {
        "one": min(200, max(20, ctx.contacts // 500)),
        "two": min(2_000, max(40, ctx.contacts // 50)),
        "combine": min(10_000, max(200, ctx.contacts // 10)),
    }


def workers(*commands: list[str]) -> tuple[float, list[dict]]:
    """Run worker processes together: wait until each is ready, start them at once, and return
    the seconds until the last one finished, with their results."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.merge_worker", *command],
            cwd=settings.BASE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    try:
        for process in processes:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a merge worker did not start (exit status {process.wait()})")
        started = time.perf_counter()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in processes:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"a merge worker failed (exit status {process.wait()})")
            results.append(json.loads(line))
        return time.perf_counter() - started, results
    finally:
        for process in processes:
            if process.poll() is None:
                process.stdin.close()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


# --- the segment and the docxtpl side ---------------------------------------------------------------


def prepare_merge(ctx: Context) -> None:
    """A bench segment with lines (the segment operations' add), the line numbers each worker
    merges, and for docxtpl the template and the contexts of the first lines."""
    if "merge" in ctx.data:
        return
    segment = segment_ops.new_segment(ctx, "merge", lines=True)
    count = sizes(ctx)
    line_nos = list(
        SegmentLine.objects.filter(segment=segment)
        .order_by("line_no")
        .values_list("line_no", flat=True)[: max(count["one"], count["two"])]
    )
    one = line_nos[: count["one"]]
    first = with_word_document(segment, SegmentLine.objects.filter(segment=segment, line_no=one[0])).get()
    template = Document.objects.get(pk=first.word_document_id).read_bytes()
    lines = SegmentLine.objects.filter(segment=segment, line_no__lte=one[-1])
    contexts = [context for _line, context in line_contexts(segment, lines)]
    ctx.data["merge"] = {"segment": segment, "line_nos": line_nos, "template": template, "contexts": contexts}


def _merge_command(ctx: Context, line_nos: list[int]) -> list[str]:
    return ["merge", str(ctx.data["merge"]["segment"].pk), str(line_nos[0]), str(line_nos[-1])]


def docxtpl_floor(ctx: Context) -> None:
    from docxtpl import DocxTemplate

    template = ctx.data["merge"]["template"]
    for context in ctx.data["merge"]["contexts"]:
        letter = DocxTemplate(io.BytesIO(template))
        letter.render(context, jinja_env=ENV, autoescape=True)
        letter.save(io.BytesIO())


def one_worker_note(ctx: Context, ours: float, floor: float | None) -> str:
    letters = len(ctx.data["merge"]["contexts"])
    ctx.data["docxtpl_rate"] = letters / floor
    return (
        f"{letters:,} letters: ours {letters / ours:,.0f} letters/s in one worker process "
        f"(fields, render, combined .docx), docxtpl {letters / floor:,.1f} letters/s "
        f"(ours {floor / ours:,.1f}× docxtpl's rate)"
    )


@operation(
    "Word merge, one worker (floor: docxtpl render + save per letter)",
    floor=docxtpl_floor,
    prepare=prepare_merge,
    note=one_worker_note,
)
def merge_one_worker(ctx: Context) -> float:
    line_nos = ctx.data["merge"]["line_nos"][: sizes(ctx)["one"]]
    seconds, _results = workers(_merge_command(ctx, line_nos))
    return seconds


# --- two workers ---------------------------------------------------------------------------------------


def two_worker_lines(ctx: Context) -> tuple[list[int], list[int]]:
    line_nos = ctx.data["merge"]["line_nos"][: sizes(ctx)["two"]]
    half = len(line_nos) // 2
    return line_nos[:half], line_nos[half:]


def one_worker_all(ctx: Context) -> float:
    first, second = two_worker_lines(ctx)
    seconds, results = workers(_merge_command(ctx, first + second))
    ctx.data["two_letters"] = sum(result["letters"] for result in results)
    ctx.data.setdefault("one_worker_runs", []).append((seconds, results))
    return seconds


def _cpu_share(runs: list[tuple[float, list[dict]]]) -> str:
    """CPU time the workers got over the wall time, summed over the workers (one core = 1.0),
    of the median run: below the number of workers means they waited for a core."""
    wall, results = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
    return f"{sum(result['cpu_seconds'] for result in results) / wall:.2f}"


def two_worker_note(ctx: Context, ours: float, floor: float | None) -> str:
    letters = ctx.data["two_letters"]
    rate = letters / ours
    docxtpl = ctx.data.get("docxtpl_rate")
    versus = f", {rate / docxtpl:,.1f}× docxtpl's rate on one core" if docxtpl else ""
    return (
        f"{letters:,} letters: two workers {rate:,.0f} letters/s, {floor / ours:.2f}× one worker "
        f"({letters / floor:,.0f} letters/s){versus}; cores used (CPU time / wall time): two workers "
        f"{_cpu_share(ctx.data['two_worker_runs'])}, one worker {_cpu_share(ctx.data['one_worker_runs'])}"
    )


@operation(
    "Word merge, two workers at once (floor: one worker)",
    floor=one_worker_all,
    prepare=prepare_merge,
    note=two_worker_note,
)
def merge_two_workers(ctx: Context) -> float:
    first, second = two_worker_lines(ctx)
    seconds, results = workers(_merge_command(ctx, first), _merge_command(ctx, second))
    ctx.data["two_letters"] = sum(result["letters"] for result in results)
    ctx.data.setdefault("two_worker_runs", []).append((seconds, results))
    return seconds


# --- combining ----------------------------------------------------------------------------------------


def prepare_combine(ctx: Context) -> None:
    """100 distinct sample letters in a zip file, for the combining processes."""
    if "combine_samples" in ctx.data:
        return
    path = os.path.join(tempfile.mkdtemp(prefix="crm-bench-merge-"), "samples.zip")
    with zipfile.ZipFile(path, "w") as samples:
        for number, letter in enumerate(sample_letters()):
            samples.writestr(f"{number}.docx", letter)
    atexit.register(shutil.rmtree, os.path.dirname(path), True)
    ctx.data["combine_samples"] = path


def combine_floor(ctx: Context) -> float:
    seconds, _results = workers(["combine-floor", str(sizes(ctx)["combine"]), ctx.data["combine_samples"]])
    return seconds


def combine_note(ctx: Context, ours: float, floor: float | None) -> str:
    peaks = ctx.data["combine_peaks"]
    letters = sizes(ctx)["combine"]
    peak = max(result["peak_rss_mib"] for result in peaks)
    before = max(result["rss_before_mib"] for result in peaks)
    return (
        f"{letters:,} letters in {ours:.2f} s ({letters / ours:,.0f} letters/s); peak memory of the combining "
        f"process {peak:,.0f} MiB, of which {before:,.0f} MiB before combining (Python, lxml, 100 sample letters)"
    )


@operation(
    "combine letters into one .docx (floor: bodies copied, nothing remapped)",
    floor=combine_floor,
    prepare=prepare_combine,
    note=combine_note,
)
def combine_letters(ctx: Context) -> float:
    seconds, results = workers(["combine", str(sizes(ctx)["combine"]), ctx.data["combine_samples"]])
    ctx.data.setdefault("combine_peaks", []).extend(results)
    return seconds
