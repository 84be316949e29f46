"""The committed gRPC code must be exactly what scripts/gen_proto.py makes from proto/."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "cloudai" / "_proto"


def test_committed_generated_code_matches_the_protos(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    committed = {p.name: p.read_bytes() for p in COMMITTED.iterdir() if p.is_file()}
    stale = sorted(name for name in fresh if committed.get(name) != fresh[name])
    extra = sorted(set(committed) - set(fresh))
    assert not stale, f"stale generated files, run scripts/gen_proto.py: {stale}"
    assert not extra, f"files in _proto that the generator does not make: {extra}"


def test_reference_field_numbers_are_kept() -> None:
    from cloudai._proto import cluster_pb2 as pb

    task = pb.Task.DESCRIPTOR.fields_by_name
    assert [task[n].number for n in ("task_id", "docker_image", "command", "submitted_at")] == [
        1,
        2,
        3,
        13,
    ]
    chunk = pb.FileChunk.DESCRIPTOR.fields_by_name
    assert chunk["is_last_file"].number == 7 and chunk["timestamp"].number == 8
    service = pb.DESCRIPTOR.services_by_name["MasterWorker"]
    # The seed's eight RPCs, plus ReportTaskProgress (added: "running" comes from it)
    # and AssignTasks (added: several attempts in one call).
    assert sorted(m.name for m in service.methods) == sorted(
        [
            "ReportTaskProgress",
            "RegisterWorker",
            "SendHeartbeat",
            "ReportTaskCompletion",
            "UploadTaskFiles",
            "MasterRegister",
            "AssignTask",
            "AssignTasks",
            "CancelTask",
            "StreamTaskLogs",
        ]
    )
