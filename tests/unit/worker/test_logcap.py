"""The per-attempt log cap: the first part and the tail are kept, the cut is said once
where it is, and a re-attached run continues a cut log without repeating a byte."""

from __future__ import annotations

from pathlib import Path

from cloudai.domain.log_index import split
from cloudai.worker.logcap import NOTICE_START, IndexReader, LogCap, LogWriter, cap_file

CAP = LogCap(1000)  # head 500, tail 500
OUTPUT = b"".join(f"{n:04d}\n".encode() for n in range(1000))  # 5,000 bytes


def written(path: Path, chunks: list[bytes], cap: LogCap | None = CAP) -> bytes:
    writer = LogWriter(path, cap)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    return path.read_bytes()


def expected(output: bytes, cap: LogCap = CAP) -> bytes:
    return output[: cap.head_bytes] + cap.notice() + output[-cap.tail_bytes :]


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def frames(data: bytes, size: int) -> list[tuple[str, bytes]]:
    return [("stdout", chunk) for chunk in chunks_of(data, size)]


def test_under_the_cap_everything_is_kept(tmp_path: Path) -> None:
    assert written(tmp_path / "log", chunks_of(OUTPUT[:900], 7)) == OUTPUT[:900]


def test_over_the_cap_the_head_and_the_tail_are_kept_and_the_cut_said_once(
    tmp_path: Path,
) -> None:
    for size in (1, 7, 499, 500, 501, 5000):
        log = written(tmp_path / f"log-{size}", chunks_of(OUTPUT, size))
        assert log == expected(OUTPUT), size
        assert log.count(NOTICE_START) == 1
        assert b"CLOUDAI_WORKER_MAX_LOG_BYTES" in log


def test_without_a_cap_nothing_is_cut(tmp_path: Path) -> None:
    assert written(tmp_path / "log", chunks_of(OUTPUT, 64), cap=None) == OUTPUT


def test_a_re_attached_run_continues_an_uncut_log(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(OUTPUT[:300])  # what the first worker process wrote
    writer = LogWriter(path, CAP, resume=True)
    writer.feed(iter(frames(OUTPUT[:2000], 33)))  # the daemon's log, followed
    writer.feed(iter(frames(OUTPUT, 100)))  # read again after the exit
    writer.close()
    assert path.read_bytes() == expected(OUTPUT)


def test_a_re_attached_run_continues_a_cut_log(tmp_path: Path) -> None:
    for before, on_disk in ((1200, OUTPUT[:500] + CAP.notice()), (800, OUTPUT[:500])):
        path = tmp_path / f"log-{before}"
        writer = LogWriter(path, CAP)
        writer.write(OUTPUT[:before])
        writer.close(ended=False)  # left running: what is held back is the next start's
        assert path.read_bytes() == on_disk
        writer = LogWriter(path, CAP, resume=True)
        writer.feed(iter(frames(OUTPUT, 64)))
        writer.close()
        assert path.read_bytes() == expected(OUTPUT), before


def test_a_log_written_straight_to_disk_is_cut_afterwards(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(OUTPUT)
    assert cap_file(path, CAP)
    assert path.read_bytes() == expected(OUTPUT)
    assert not cap_file(path, CAP)  # cut once
    small = tmp_path / "small"
    small.write_bytes(OUTPUT[:1000])
    assert not cap_file(small, CAP) and small.read_bytes() == OUTPUT[:1000]


def test_the_index_tells_each_byte_s_stream_and_time(tmp_path: Path) -> None:
    path = tmp_path / "log"
    now = iter([1.0, 1.1, 1.2, 3.0, 3.1])  # seconds, one per write
    cap = LogCap(30)  # head 15, tail 15
    writer = LogWriter(path, cap, clock=lambda: next(now))
    writer.write(b"out-1\n", "stdout")
    writer.write(b"err-1\n", "stderr")
    writer.write(b"out-2\n", "stdout")  # the head is full after "out": the rest held back
    writer.write(b"out-3\n", "stdout")
    writer.write(b"out-4\nout-5\nout-6\n", "stdout")  # over the cap: cut
    writer.close()
    log = path.read_bytes()
    assert log == b"out-1\nerr-1\nout" + cap.notice() + b"-4\nout-5\nout-6\n"
    pieces = split(IndexReader(path).read(), 0, log)
    assert [(p.stream, p.data, p.at_ms) for p in pieces] == [
        ("stdout", b"out-1\n", 1000),
        ("stderr", b"err-1\n", 1100),
        ("stdout", b"out", 1200),
        ("cloudai", cap.notice(), 3100),
        ("stdout", b"-4\nout-5\nout-6\n", 3100),  # the tail, as the last write read it
    ]
