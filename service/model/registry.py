"""The model versions a service process serves: the current one, pinned ones and the one a
reload replaced, or the reason there is none. Routes read it per request."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from segmentation.metadata import BundleError, current_version
from segmentation.served_bundle import verified_bundle
from service.defaults import ENV_PREFIX
from service.http.errors import FieldProblem, ModelUnavailable, NotFound
from service.model.segment_model import SegmentModel

logger = logging.getLogger(__name__)
# Segment names of versions no longer served are kept for the segment history's last counts of
# them; a bound, as a service reloaded for years would otherwise keep every version's.
_REMEMBERED_NAMES = 64
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s/'\"():]+/)*([^\s/'\"():]+)")


class ExtraVersionUnavailable(Exception):
    """A version named in SEGMENT_EXTRA_VERSIONS cannot be loaded; the service does not start."""


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: ``version`` is the model serving afterwards (None if there is none)."""

    ok: bool
    version: str | None
    previous_version: str | None
    reason: str | None = None


def _load_model(models_dir: Path, version: str | None) -> SegmentModel:
    """The bundle's numbers from its metadata; only a format 1 bundle, which has none, makes a
    serving process load scikit-learn and unpickle its pipeline."""
    return SegmentModel.from_bundle(verified_bundle(models_dir, version))


@dataclass
class ModelRegistry:
    """Holds the model being served, or the reason there is none; routes read it per request.

    A handler takes the model once, at the start of its request, so a reload swapping in a new
    model (one reference assignment) never changes the model under a request in flight.
    """

    model: SegmentModel | None = None
    reason: str = "the model has not been loaded yet"
    pinned: dict[str, SegmentModel] = field(default_factory=dict)
    previous: SegmentModel | None = None
    _reload_lock: asyncio.Lock | None = field(default=None, repr=False)
    _names: dict[str, Mapping[int, str]] = field(default_factory=dict, repr=False)

    def names_of(self, version: str) -> Mapping[int, str]:
        """Segment names by id of a version served now or earlier by this process ({} if it
        never was, or too many versions ago)."""
        for model in self.served():
            if model.version == version:
                return model.names_by_id
        return self._names.get(version, {})

    def _remember(self, model: SegmentModel) -> SegmentModel:
        self._names.pop(model.version, None)
        self._names[model.version] = model.names_by_id
        while len(self._names) > _REMEMBERED_NAMES:
            del self._names[next(iter(self._names))]  # the oldest first: dicts keep order
        return model

    def load(self, models_dir: Path, version: str | None) -> None:
        try:
            self.model = self._remember(_load_model(models_dir, version))
        except Exception as exc:  # the service must stay up and say why it is not ready
            self.model = None
            self.reason = _failure_reason(exc, models_dir, version)
        else:
            logger.info("serving model %s from %s", self.model.version, models_dir)

    async def reload(self, models_dir: Path, version: str | None) -> ReloadOutcome:
        """Load and verify the bundle off the event loop, then swap it in; on failure keep the
        model being served, so a bad bundle never takes the service down."""
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            previous = self.model
            previous_version = previous.version if previous else None
            try:
                model = await anyio.to_thread.run_sync(_load_model, models_dir, version)
            except Exception as exc:
                reason = _failure_reason(exc, models_dir, version)
                if previous is None:
                    self.reason = reason
                return ReloadOutcome(False, previous_version, previous_version, reason)
            self.model = self._remember(model)
            if previous is not None and previous.version != model.version:
                # Callers finishing a chunked batch may pin the version they started with.
                self.previous = previous
            return ReloadOutcome(True, model.version, previous_version)

    def load_pinned(self, models_dir: Path, versions: Sequence[str]) -> None:
        """Load the extra versions callers may ask for by name; bundles never change, so
        these are loaded once and are not touched by a reload.

        One that cannot be loaded stops the start (ExtraVersionUnavailable): an operator asked
        for it by name, so a service that is ready without it would be ready by mistake.
        """
        for version in versions:
            try:
                self.pinned[version] = self._remember(_load_model(models_dir, version))
            except Exception as exc:
                raise ExtraVersionUnavailable(
                    f"{ENV_PREFIX}EXTRA_VERSIONS names version {version!r}, which cannot be "
                    f"loaded from {models_dir}: {_plain_reason(exc)}"
                ) from exc

    def require(self, version: str | None = None, field: str = "query.version") -> SegmentModel:
        """The current model, or the served ``version`` (a 404 naming ``field`` otherwise)."""
        current = self.model
        if version is None or (current is not None and current.version == version):
            if current is None:
                raise ModelUnavailable(f"no model is loaded: {self.reason}")
            return current
        if version in self.pinned:
            return self.pinned[version]
        if self.previous is not None and self.previous.version == version:
            return self.previous
        message = f"model version {version!r} is not served; available: {self.describe_available()}"
        raise NotFound(message, [FieldProblem(field=field, message=message)])

    def served(self) -> list[SegmentModel]:
        """The current model, then every other version a request may name."""
        models = [self.model] if self.model is not None else []
        others = [m for _, m in sorted(self.pinned.items())]
        if self.previous is not None:
            others.append(self.previous)
        for model in others:
            if model.version not in {m.version for m in models}:
                models.append(model)
        return models

    def describe_available(self) -> str:
        names = [f"{m.version} (current)" if m is self.model else m.version for m in self.served()]
        return ", ".join(names) or "none"


def _failure_reason(exc: Exception, models_dir: Path, version: str | None) -> str:
    """Why a model is not served, for callers: the version and the reason, with no path of
    this server in it. The log gets the whole message, paths included."""
    if isinstance(exc, BundleError):
        logger.error("model not loaded: %s", exc)
        return without_server_paths(str(exc), models_dir)
    logger.error("model not loaded", exc_info=exc)
    return (
        f"bundle {_version_named(models_dir, version)}: unexpected error while loading the "
        f"model ({type(exc).__name__}); see the server log"
    )


def _plain_reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, BundleError) else f"{type(exc).__name__}: {exc}"


def _version_named(models_dir: Path, version: str | None) -> str:
    """The version a load was for: the pinned one, else the one CURRENT names."""
    if version is None:
        try:
            version = current_version(models_dir)
        except BundleError:
            return "named by CURRENT"
    return repr(version)


def without_server_paths(message: str, models_dir: Path) -> str:
    """Paths inside the models folder become relative to it (``<version>/model.joblib``);
    any other absolute path is cut to its last part."""
    for prefix in {str(models_dir.resolve()), str(models_dir.absolute()), str(models_dir)}:
        message = message.replace(prefix.rstrip("/") + "/", "")
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1), message)
