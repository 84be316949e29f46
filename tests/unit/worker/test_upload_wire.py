"""The upload's pieces go out serialised by `convert.piece_to_wire` (the data copied
once): the master must parse exactly the FileChunk that `piece_to_proto` builds."""

from __future__ import annotations

import pytest

from cloudai._proto import cluster_pb2 as pb
from cloudai.domain.attempts import FilePiece
from cloudai.rpc import convert


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 16384, 1024 * 1024 + 3])
def test_the_wire_bytes_parse_as_the_built_message(size: int) -> None:
    piece = FilePiece(
        task_id="t1", epoch=3, path="sub/ä.bin", data=bytes(range(256)) * (size // 256)
        + b"x" * (size % 256), last_chunk=True, last_file=False, kind="output",
        sha256="ab" * 32, user_id="u1", task_name="name", submitted_at=1700000000,
    )  # fmt: skip

    parsed = pb.FileChunk.FromString(convert.piece_to_wire(piece))

    assert parsed == convert.piece_to_proto(piece)
    assert len(parsed.data) == size


def test_a_piece_with_defaults_only_still_parses() -> None:
    piece = FilePiece(task_id="", epoch=0, path="", data=b"", last_chunk=False,
                      last_file=False, kind="")  # fmt: skip
    assert pb.FileChunk.FromString(convert.piece_to_wire(piece)) == pb.FileChunk()
