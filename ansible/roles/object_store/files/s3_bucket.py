#!/usr/bin/env python3
"""Creates an S3 bucket unless it exists (Ansible role object_store), with the standard library
only: the object store is installed before the appliance and its S3 client.

Prints "created" or "exists". Waits up to --wait seconds for a server that is still starting.
The credentials come from S3_ACCESS_KEY and S3_SECRET_KEY, never from the command line.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import http.client
import os
import re
import sys
import time

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def signed_headers(method: str, host: str, path: str, access: str, secret: str,
                   region: str) -> dict[str, str]:
    """AWS Signature Version 4 for a request without query and body."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    names = ";".join(sorted(headers))
    canonical = "\n".join([method, path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", names,
                           EMPTY_SHA256])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={names}, "
                                f"Signature={signature}")
    return headers


def call(method: str, endpoint: str, bucket: str, access: str, secret: str, region: str) -> int:
    connection = http.client.HTTPConnection(endpoint, timeout=10)
    try:
        path = f"/{bucket}"
        headers = signed_headers(method, endpoint, path, access, secret, region)
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="host:port of the S3 API (plain HTTP)")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the server")
    args = parser.parse_args()
    if not BUCKET.match(args.bucket):
        print(f"not a valid bucket name: {args.bucket!r}", file=sys.stderr)
        return 2
    access, secret = os.environ.get("S3_ACCESS_KEY", ""), os.environ.get("S3_SECRET_KEY", "")
    deadline = time.monotonic() + args.wait
    while True:
        try:
            status = call("HEAD", args.endpoint, args.bucket, access, secret, args.region)
            if status == 404:
                status = call("PUT", args.endpoint, args.bucket, access, secret, args.region)
                if status == 200:
                    print("created")
                    return 0
            elif status == 200:
                print("exists")
                return 0
            problem = f"the server answered HTTP {status}"
            if status in (401, 403):
                break  # wrong credentials do not get better by waiting
        except OSError as exc:
            problem = f"cannot reach {args.endpoint}: {exc}"
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    print(f"bucket {args.bucket} not created: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
