"""A worker process of the merge benchmark (bench/merge_operations.py), one core each.

    python -m bench.merge_worker merge SEGMENT_ID FIRST_LINE_NO LAST_LINE_NO
    python -m bench.merge_worker combine LETTERS SAMPLES.zip
    python -m bench.merge_worker combine-floor LETTERS SAMPLES.zip

A merge worker sets Django up from its environment (the benchmark's scratch database) and
gets ready (imports, database connection, the template prepared by merging one line); a
combine worker loads only `interactions.letters` (no Django) and the sample letters, a zip of
.docx files the benchmark rendered. Then it prints "ready", waits for a line on stdin, does its
work and prints one JSON line: {"letters", "seconds", "cpu_seconds", "rss_before_mib",
"peak_rss_mib"}. "seconds" is the work alone (wall clock; "cpu_seconds" the CPU time the
process got for it); the peak resident memory (VmHWM) is the whole process's, and
rss_before_mib what it held when the work started.

- merge: `segments.merge.merge_write` of the segment's lines FIRST..LAST into one combined
  .docx in a temporary file (what a merge job does);
- combine: `interactions.letters.combine_docx` of LETTERS letters (the sample letters over and
  over) into a temporary file;
- combine-floor: the least that combining needs: each letter's body cut out of its
  document.xml by a text search and written into one zip member, nothing remapped.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import tempfile
import time
import zipfile


def _rss_mib() -> float:
    """The process's peak resident memory so far (MiB): VmHWM, which a new program starts
    afresh (ru_maxrss keeps the parent's peak across fork and exec), else ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def sample_letters(count: int = 100) -> list[bytes]:
    """`count` distinct letters of the sample template (needs Django set up)."""
    from interactions.merge_fields import sample_context
    from interactions.sample_template import sample_letter_docx
    from interactions.wordtemplates import prepare

    template = prepare(sample_letter_docx())
    letters = []
    for n in range(count):
        context = sample_context()
        context["contact"]["no"] = f"CT{n:06d}"
        context["address_block"] = f"Contact {n}\nStreet {n}\n{1000 + n} AB City"
        letters.append(template.render(context))
    return letters


def _cycle(letters: list[bytes], count: int):
    for n in range(count):
        yield letters[n % len(letters)]


def _combine_floor(letters, out) -> int:
    count = 0
    archive = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
    with archive, archive.open("word/document.xml", "w") as stream:
        stream.write(b"<w:document><w:body>")
        for data in letters:
            xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")
            start = xml.index(b">", xml.index(b"<w:body")) + 1
            stream.write(xml[start : xml.rindex(b"</w:body>")])
            count += 1
        stream.write(b"</w:body></w:document>")
    return count


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "merge":
        import django

        django.setup()
        from segments.merge import merge_write
        from segments.models import Segment, SegmentLine

        segment = Segment.objects.get(pk=int(argv[1]))
        lines = SegmentLine.objects.filter(segment=segment, line_no__gte=int(argv[2]), line_no__lte=int(argv[3]))
        first = list(lines.order_by("line_no").values_list("pk", flat=True)[:1])
        merge_write(segment, "docx", io.BytesIO(), lines=SegmentLine.objects.filter(pk__in=first))  # warm up

        def work(out):
            return merge_write(segment, "docx", out, lines=lines)

    elif mode in ("combine", "combine-floor"):
        from interactions.letters import combine_docx

        count = int(argv[1])
        with zipfile.ZipFile(argv[2]) as samples:
            letters = [samples.read(name) for name in samples.namelist()]

        def work(out):
            source = _cycle(letters, count)
            return combine_docx(source, out) if mode == "combine" else _combine_floor(source, out)

    else:
        raise SystemExit(f"unknown mode {mode!r}")
    before = _rss_mib()
    _say("ready")
    sys.stdin.readline()
    with tempfile.TemporaryFile() as out:
        started, cpu = time.perf_counter(), time.process_time()
        made = work(out)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = {
        "letters": made,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rss_before_mib": before,
        "peak_rss_mib": _rss_mib(),
    }
    _say(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    main(sys.argv[1:])
