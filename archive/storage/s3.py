"""S3Store: archive files as objects under a prefix of an S3 (or S3-compatible) bucket."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from archive.storage import StoreError, file_sha256, validate_key, validate_prefix

# Error codes meaning "no such object". HEAD responses have no body, so only the status is known.
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Store:
    """Objects live at ``<prefix>/<key>`` in `bucket`.

    Options left as None fall back to boto3's own configuration chain (environment variables such
    as AWS_ACCESS_KEY_ID and AWS_ENDPOINT_URL, ~/.aws/config, instance roles); the names match
    Scrapy's AWS_* settings.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        use_ssl: bool | None = None,
        verify: bool | str | None = None,
        addressing_style: str | None = None,
    ) -> None:
        import boto3  # optional heavy dependency, only needed for s3:// stores
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        if addressing_style is None and endpoint_url:
            # S3-compatible servers rarely serve bucket.host names (SeaweedFS needs
            # -s3.domainName). botocore picks path style for custom endpoints itself, including
            # one from AWS_ENDPOINT_URL, which it reads, so that case needs nothing here.
            addressing_style = "path"
        config = Config(
            # Since botocore 1.36 every request carries a CRC checksum by default, which many
            # S3-compatible servers reject; send checksums only where the API requires one.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"mode": "standard"},
            s3={"addressing_style": addressing_style} if addressing_style else None,
        )
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region_name,
        )
        client_options: dict[str, Any] = {"endpoint_url": endpoint_url, "config": config}
        if use_ssl is not None:
            client_options["use_ssl"] = use_ssl
        if verify is not None:
            client_options["verify"] = verify
        self.client = session.client("s3", **client_options)

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> S3Store:
        parts = urlsplit(uri)
        if not parts.netloc:
            raise ValueError(f"S3 URI without a bucket: {uri!r}")
        return cls(parts.netloc, parts.path, **{k: v for k, v in options.items() if v is not None})

    def __repr__(self) -> str:
        return f"S3Store({self.uri!r})"

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        name = self._name(key)
        size, digest = file_sha256(path)
        with _errors(key):
            # upload_file switches to a multipart upload above 8 MiB (TransferConfig default).
            self.client.upload_file(
                os.fspath(path), self.bucket, name, ExtraArgs={"Metadata": {"sha256": digest}}
            )
            head = self.client.head_object(Bucket=self.bucket, Key=name)
        # The server's own checksums are not comparable across single and multipart uploads or
        # across servers, so check what can be: the stored length and the hash recorded with it.
        stored = (head["ContentLength"], head.get("Metadata", {}).get("sha256"))
        if stored != (size, digest):
            raise StoreError(f"{self.uri}/{key}: stored {stored} != sent {(size, digest)}")

    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = False) -> None:
        options = {} if overwrite else {"IfNoneMatch": "*"}
        with _errors(key):
            # IfNoneMatch='*' makes the server refuse an existing key (412), atomically: AWS S3
            # since 2024, SeaweedFS (exactly one winner among concurrent writers in 4.48).
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data, **options)

    def get_bytes(self, key: str) -> bytes:
        with _errors(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise ValueError(f"invalid range start={start} length={length}")
        name = self._name(key)
        if length == 0:
            return b""
        with _errors(key, past_end_ok=True):
            response = self.client.get_object(
                Bucket=self.bucket, Key=name, Range=f"bytes={start}-{start + length - 1}"
            )
            return response["Body"].read()
        return b""  # 416: the range starts past the end, which a file read answers with b""

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        with _errors(key):
            return self.client.head_object(Bucket=self.bucket, Key=self._name(key))["ContentLength"]

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        keys = []
        with _errors(prefix):
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=root + validate_prefix(prefix)
            ):
                # Folder markers ('dir/') made by other tools are not files.
                keys += [
                    o["Key"][len(root) :] for o in page.get("Contents", ()) if o["Key"][-1] != "/"
                ]
        # AWS lists in key order, but SeaweedFS walks its directory tree ('a/b' before 'a.txt'),
        # so the listing is held and sorted; that costs memory for the keys under `prefix`.
        yield from sorted(keys)

    def _name(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key


@contextlib.contextmanager
def _errors(key: str, *, past_end_ok: bool = False) -> Iterator[None]:
    """botocore exceptions as the OSErrors the Store protocol promises."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _MISSING:
            raise FileNotFoundError(errno.ENOENT, "no such key", key) from exc
        if code == "PreconditionFailed" or status == 412:
            raise FileExistsError(errno.EEXIST, "key exists", key) from exc
        if past_end_ok and (code == "InvalidRange" or status == 416):
            return
        raise StoreError(f"{key}: {code or status}: {error.get('Message', exc)}") from exc
    except (BotoCoreError, Boto3Error) as exc:  # Boto3Error: upload_file's S3UploadFailedError
        raise StoreError(f"{key}: {exc}") from exc
