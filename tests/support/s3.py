"""A real S3-compatible server for the archive's tests: moto's server mode on a free loopback port, with a bucket.

Started and stopped by the test or fixture that uses it, also on failure. Its credentials are moto's
(any pair works); a RemoteFileSystem block reaches it through s3fs, as a user's would reach S3.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from tools.prefect_server import free_port

BUCKET = "archive"
KEYS = {"key": "testing-access-key", "secret": "testing-secret-key"}


@dataclass(frozen=True)
class S3:
    endpoint_url: str

    def settings(self) -> dict:
        """A RemoteFileSystem's `settings`: what s3fs needs to reach this server."""
        return {**KEYS, "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
                "skip_instance_cache": True}

    def block(self, prefix: str):
        from prefect.filesystems import RemoteFileSystem

        return RemoteFileSystem(basepath=f"s3://{BUCKET}/{prefix}", settings=self.settings())

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(**self.settings())


@contextlib.contextmanager
def s3_server() -> Iterator[S3]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = S3(f"http://{host}:{port}")
        import boto3

        boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1", aws_access_key_id=KEYS["key"],
                     aws_secret_access_key=KEYS["secret"]).create_bucket(Bucket=BUCKET)
        yield s3
    finally:
        server.stop()
