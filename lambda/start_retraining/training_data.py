"""The training data a run reads: a snapshot of the incoming prefix, written as a SageMaker manifest.

SageMaker decides a cached step from its arguments, never from the data an S3 URI points to
(https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html). So every run
gets a manifest whose key is a hash of the listing: new, changed or deleted data gives a new
key, hence new Preprocess arguments and a fresh run; unchanged data gives the same key and
may reuse the cached steps.

The manifest format is SageMaker's (S3DataSource, S3DataType ManifestFile): a JSON array of
`{"prefix": "s3://bucket/prefix/"}` followed by keys relative to that prefix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from retraining_settings import Settings

from contracts import INPUT_MANIFESTS_PREFIX, RAW_DATA_SUFFIX

MANIFEST_SUFFIX = ".manifest"


class NoTrainingDataError(ValueError):
    """There is nothing to train on under the incoming prefix; no run is started."""


@dataclass(frozen=True)
class DataObject:
    """The current version of one object under the incoming prefix."""

    key: str
    version_id: str
    etag: str
    size: int


@dataclass(frozen=True)
class Snapshot:
    """The objects a run reads, sorted by key, and where they live."""

    prefix_uri: str
    objects: tuple[DataObject, ...]

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the prefix and every object's key, version, ETag and size.

        The version id changes on every write to a versioned bucket, even when the ETag would
        not (S3 documents ETags of SSE-KMS objects as not being an MD5 of the content).
        """
        listing = [self.prefix_uri, *([o.key, o.version_id, o.etag, o.size] for o in self.objects)]
        return hashlib.sha256(json.dumps(listing, separators=(",", ":")).encode()).hexdigest()

    def manifest(self, incoming_prefix: str) -> list[Any]:
        return [{"prefix": self.prefix_uri}, *(o.key.removeprefix(incoming_prefix) for o in self.objects)]


def is_training_object(key: str, settings: Settings) -> bool:
    """A file the Preprocess step reads; folder markers (keys ending in '/') are not files."""
    return not key.endswith("/") and key.endswith(RAW_DATA_SUFFIX)


def current_objects(s3: Any, settings: Settings) -> tuple[list[DataObject], list[str]]:
    """The latest version of every object under the prefix: those to train on, and the keys skipped.

    Deleted objects (whose latest version is a delete marker) are listed under DeleteMarkers,
    not Versions, so they drop out here. Needs s3:ListBucketVersions on the data bucket.
    """
    objects: list[DataObject] = []
    skipped: list[str] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=settings.data_bucket, Prefix=settings.incoming_prefix):
        for version in page.get("Versions", []):
            if not version["IsLatest"]:
                continue
            key = version["Key"]
            if not is_training_object(key, settings):
                skipped.append(key)
                continue
            objects.append(DataObject(key, version["VersionId"], version["ETag"], version["Size"]))
    return sorted(objects, key=lambda o: o.key), skipped


def take_snapshot(s3: Any, settings: Settings) -> Snapshot:
    """The data a run started now would read; refuses when there is none."""
    objects, skipped = current_objects(s3, settings)
    if not objects:
        others = f"; found only {len(skipped)} other object(s), e.g. {skipped[:3]}" if skipped else ""
        raise NoTrainingDataError(
            f"No *{RAW_DATA_SUFFIX} object under {settings.incoming_uri}{others}: "
            "nothing to train on, so no run was started."
        )
    return Snapshot(prefix_uri=settings.incoming_uri, objects=tuple(objects))


def write_manifest(s3: Any, settings: Settings, snapshot: Snapshot) -> str:
    """Writes the snapshot's manifest under its content-derived key; returns its S3 URI.

    Writing again for unchanged data rewrites identical content under the same key, so the
    URI a run passes to the pipeline stays the same.
    """
    key = f"{INPUT_MANIFESTS_PREFIX}{snapshot.fingerprint}{MANIFEST_SUFFIX}"
    s3.put_object(
        Bucket=settings.manifest_bucket,
        Key=key,
        Body=json.dumps(snapshot.manifest(settings.incoming_prefix), indent=1).encode(),
        ContentType="application/json",
    )
    return f"s3://{settings.manifest_bucket}/{key}"
