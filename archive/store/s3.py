"""S3Store: archive files as objects under a prefix of an S3 (or S3-compatible) bucket."""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from archive.store import StoreError, file_sha256, validate_key, validate_prefix

# Error codes meaning "no such object". HEAD responses have no body, so only the status is known.
_MISSING = {"404", "NoSuchKey", "NotFound"}
# Files above this go up in parts of this size; the stored checksum is then a composite one.
PART_SIZE = 16 * 1024 * 1024
_READ = 1 << 20


def sha256_checksum(path: str | os.PathLike[str], part_size: int = PART_SIZE) -> str:
    """The x-amz-checksum-sha256 S3 stores for `path` uploaded by put_file: base64 of the
    SHA-256 for a single upload, ``base64(sha256(part digests...))-N`` for N parts (files of
    `part_size` bytes or more go up in parts, as s3transfer decides)."""
    size = os.path.getsize(path)
    parts = []
    with open(path, "rb") as f:
        while True:
            digest = hashlib.sha256()
            done = 0
            while done < part_size and (chunk := f.read(min(_READ, part_size - done))):
                digest.update(chunk)
                done += len(chunk)
            if done == 0 and parts:
                break
            parts.append(digest.digest())
            if done < part_size:
                break
    if size < part_size:
        return base64.b64encode(parts[0]).decode()
    combined = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode()
    return f"{combined}-{len(parts)}"


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
        env = os.environ.get
        config = Config(
            # Since botocore 1.36 every request carries a CRC checksum by default, which many
            # S3-compatible servers reject; send checksums only where the API requires one (or
            # where put_file asks for SHA-256), unless the standard variables say otherwise.
            request_checksum_calculation=env("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required"),
            response_checksum_validation=env("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required"),
            retries={"mode": env("AWS_RETRY_MODE", "standard")},
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
        """Upload with SHA-256 checksums (the server checks each part as it arrives), then
        compare the checksum the server stored with the one computed here; an endpoint that
        stores none is read back and hashed."""
        from boto3.s3.transfer import TransferConfig

        name = self._name(key)
        size = os.path.getsize(path)
        expected = sha256_checksum(path)
        transfer = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)
        with _errors(key):
            self.client.upload_file(
                os.fspath(path),
                self.bucket,
                name,
                ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                Config=transfer,
            )
            head = self.client.head_object(Bucket=self.bucket, Key=name, ChecksumMode="ENABLED")
            stored = head.get("ChecksumSHA256")
            if stored is None:  # the endpoint keeps no checksum: hash what it serves
                expected, stored = file_sha256(path)[1], self._read_back_sha256(name)
        if head["ContentLength"] != size or stored != expected:
            raise StoreError(
                f"{self.uri}/{key}: stored {head['ContentLength']} bytes, sha256 {stored}; "
                f"sent {size} bytes, sha256 {expected}"
            )

    def _read_back_sha256(self, name: str) -> str:
        body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(_READ), b""):
            digest.update(chunk)
        return digest.hexdigest()

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise StoreError(f"{self.uri}: the bucket {self.bucket!r} does not exist") from exc
            if status == 403:
                raise StoreError(f"{self.uri}: access to the bucket is denied") from exc
            raise StoreError(f"{self.uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"{self.uri}: cannot reach the S3 endpoint: {exc}") from exc

    def delete(self, key: str) -> None:
        with _errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def put_bytes(
        self, key: str, data: bytes, *, overwrite: bool = False, durable: bool = True
    ) -> None:
        del durable  # an S3 PUT is durable when it returns
        options = {} if overwrite else {"IfNoneMatch": "*"}
        with _errors(key):
            # IfNoneMatch='*' makes the server refuse an existing key (412), atomically: AWS S3
            # since 2024, SeaweedFS (exactly one winner among concurrent writers in 4.48).
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data, **options)

    def sync(self) -> None:
        pass  # every PUT was durable when it returned

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
