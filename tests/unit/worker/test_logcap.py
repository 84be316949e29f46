"""The per-attempt log cap: the first part and the tail are kept, the cut is said once
where it is, and a re-attached run continues a cut log without repeating a byte."""

from __future__ import annotations

from pathlib import Path

from cloudai.worker.logcap import NOTICE_START, LogCap, LogWriter, cap_file

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
    writer.feed(iter(chunks_of(OUTPUT[:2000], 33)))  # the daemon's log, followed
    writer.feed(iter(chunks_of(OUTPUT, 100)))  # read again after the exit
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
        writer.feed(iter(chunks_of(OUTPUT, 64)))
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
