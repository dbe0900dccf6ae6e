"""Whole tables scored through the Arrow IPC stream: pandas or pyarrow in, the same kind out.

pyarrow is an optional dependency (``pip install 'segment-client[arrow]'``): the client's other
methods never import it. A table over the batch limit is sent in slices; every slice after the
first is pinned to the model version that scored the first, so the answer comes from one model.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from segment_client.errors import InvalidInputError, NotFoundError, VersionMismatchError

ARROW_STREAM = "application/vnd.apache.arrow.stream"
MODEL_VERSION_KEY = b"model_version"


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.ipc
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "segment_frame needs pyarrow: pip install 'segment-client[arrow]'"
        ) from None
    return pyarrow


def as_arrow(frame: Any) -> tuple[Any, bool]:
    """The frame as a pyarrow Table, and whether it came as a pandas DataFrame."""
    pa = _pyarrow()
    if isinstance(frame, pa.Table):
        return frame, False
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame]), False
    if type(frame).__name__ == "DataFrame" and hasattr(frame, "columns"):
        return pa.Table.from_pandas(frame, preserve_index=False), True
    raise InvalidInputError(
        "frame",
        f"segment_frame takes a pandas DataFrame or a pyarrow Table, not {type(frame).__name__}",
    )


def slices(table: Any, size: int) -> list[bytes]:
    """Arrow IPC stream bodies of at most ``size`` rows each."""
    pa = _pyarrow()
    bodies = []
    for offset in range(0, table.num_rows, size):
        sink = io.BytesIO()
        part = table.slice(offset, size)
        with pa.ipc.new_stream(sink, part.schema) as writer:
            writer.write_table(part)
        bodies.append(sink.getvalue())
    if not bodies:
        raise InvalidInputError("frame", "no customers to score: the frame has no rows")
    return bodies


@dataclass
class FrameAssembler:
    """Keeps each slice's answer; pins the slices after the first to the first's version."""

    version: str | None
    explain: bool | None
    answers: dict[int, Any] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        params = {}
        if self.version is not None:
            params["version"] = self.version
        if self.explain is not None:
            params["explain"] = "true" if self.explain else "false"
        return params

    def accept(self, index: int, content: bytes) -> None:
        pa = _pyarrow()
        table = pa.ipc.open_stream(content).read_all()
        metadata = table.schema.metadata or {}
        scored_by = metadata.get(MODEL_VERSION_KEY, b"").decode() or None
        if self.version is None:
            self.version = scored_by
        elif scored_by != self.version:
            raise VersionMismatchError(
                f"slice {index + 1} was asked for model version {self.version} but scored by "
                f"{scored_by}: the service does not support version pinning",
                code="version_mismatch",
            )
        self.answers[index] = table

    def pin_refused(self, exc: NotFoundError, requested: str | None) -> Exception:
        if self.version is None or self.version == requested:
            return exc
        return VersionMismatchError(
            f"the service changed model version during the table (first slice: "
            f"{self.version}) and no longer serves it: {exc.message}",
            status=exc.status,
            code="version_mismatch",
            details=exc.details,
            request_id=exc.request_id,
            total=exc.total,
        )

    def merged(self, as_pandas: bool) -> Any:
        pa = _pyarrow()
        ordered = [self.answers[index] for index in sorted(self.answers)]
        table = pa.concat_tables(ordered, promote_options="permissive")
        table = table.replace_schema_metadata({MODEL_VERSION_KEY: (self.version or "").encode()})
        if not as_pandas:
            return table
        frame = table.to_pandas()
        frame.attrs["model_version"] = self.version
        return frame
