#!/usr/bin/env python3
"""Packs a root filesystem tar into a single-layer OCI image archive for `ctr images import`.

    mkimage.py --name testbed.local/python:3 --layer rootfs.tar --out python.oci.tar [--cmd python3]

No registry and no image tool is involved: the test bed's real node imports the archive into its
containerd. The layer stays uncompressed (its digest is then also its diff_id), the index names the
image through `io.containerd.image.name`, and the archive's own entries carry fixed times, so the
same layer always gives the same image digest.
"""
import argparse
import hashlib
import io
import json
import os
import platform
import tarfile

ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def digest_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def entry(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    return info


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="image reference, e.g. testbed.local/python:3")
    p.add_argument("--layer", required=True, help="uncompressed tar of the root filesystem")
    p.add_argument("--out", required=True, help="the OCI archive to write")
    p.add_argument("--entrypoint", nargs="*", default=[])
    p.add_argument("--cmd", nargs="*", default=[])
    a = p.parse_args()

    arch = ARCHES.get(platform.machine(), platform.machine())
    layer_digest = digest_of(a.layer)
    layer_size = os.path.getsize(a.layer)
    config = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "WorkingDir": "/"}
    if a.entrypoint:
        config["Entrypoint"] = a.entrypoint
    if a.cmd:
        config["Cmd"] = a.cmd
    config_digest, config_bytes = blob(
        canonical(
            {
                "architecture": arch,
                "os": "linux",
                "config": config,
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            }
        )
    )
    manifest_digest, manifest_bytes = blob(
        canonical(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config_bytes),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest,
                        "size": layer_size,
                    }
                ],
            }
        )
    )
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": a.name,
                        "org.opencontainers.image.ref.name": a.name.rsplit(":", 1)[-1],
                    },
                }
            ],
        }
    )

    partial = a.out + ".partial"
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (
            ("oci-layout", canonical({"imageLayoutVersion": "1.0.0"})),
            ("index.json", index),
            ("blobs/sha256/" + config_digest[7:], config_bytes),
            ("blobs/sha256/" + manifest_digest[7:], manifest_bytes),
        ):
            tar.addfile(entry(name, len(data)), io.BytesIO(data))
        with open(a.layer, "rb") as layer:
            tar.addfile(entry("blobs/sha256/" + layer_digest[7:], layer_size), layer)
    os.replace(partial, a.out)
    print(json.dumps({"name": a.name, "manifest": manifest_digest, "layerBytes": layer_size}))


if __name__ == "__main__":
    main()
