"""Turning an EC2 bundle back into a disk image: every part checked, the tar's SHA-1 too."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

from cryptography.hazmat.primitives import padding as sym_padding

from shipyard.aws.bundle_format import MAX_IMAGE_SIZE, PART_SIZE, SessionKey
from shipyard.aws.bundle_manifest import Manifest
from shipyard.errors import PublishError
from shipyard.files import atomic_writer

_CHUNK = 1024 * 1024
# How far gzip may expand: a bound against decompression bombs (tar of zeros ~ 1000x).
_MAX_TAR = MAX_IMAGE_SIZE + 64 * 2**20

PartReader = Callable[[str], bytes]


def _plain_chunks(manifest: Manifest, key: SessionKey, read_part: PartReader) -> Iterator[bytes]:
    """The tar stream: parts checked against the manifest, decrypted, gunzipped."""
    decryptor = key.cipher().decryptor()
    unpadder = sym_padding.PKCS7(128).unpadder()
    inflater = zlib.decompressobj(31)
    total = 0
    for filename, digest in manifest.parts:
        data = read_part(filename)
        if len(data) > PART_SIZE:
            raise PublishError(f"bundle part {filename} is larger than 10 MiB")
        if hashlib.sha1(data).hexdigest() != digest:
            raise PublishError(f"bundle part {filename} does not match its digest in the manifest")
        padded = decryptor.update(data)
        compressed = unpadder.update(padded)
        while compressed:
            out = inflater.decompress(compressed, _CHUNK)
            compressed = inflater.unconsumed_tail
            total += len(out)
            if total > _MAX_TAR:
                raise PublishError("the bundle unpacks to more than an image EC2 accepts")
            if out:
                yield out
    try:
        last = unpadder.update(decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        raise PublishError("the bundle does not decrypt: wrong key or damaged parts") from None
    rest = inflater.decompress(last) + inflater.flush()
    if rest:
        yield rest
    if not inflater.eof:
        raise PublishError("the bundle's gzip stream is truncated")


class _HashingReader:
    """A file-like reader over chunks that hashes everything it hands out."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = bytearray()
        self.sha1 = hashlib.sha1()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        n = len(self.buffer) if size < 0 else min(size, len(self.buffer))
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        self.sha1.update(out)
        return out

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def _write_member(raw: tarfile.TarFile, member: tarfile.TarInfo, fd: int) -> None:
    """Copy the member's stored data to ``fd`` at its offsets, leaving zeros as holes."""
    # typeshed says list[int]; tarfile gives (offset, length) pairs.
    sparse = cast("list[tuple[int, int]] | None", member.sparse)
    maps = sparse if sparse is not None else [(0, member.size)]
    stream = raw.fileobj
    assert stream is not None
    zero = bytes(_CHUNK)
    for offset, length in maps:
        if offset + length > member.size:
            raise PublishError("the bundle's tar has a sparse map past the end of the image")
        done = 0
        while done < length:
            chunk = stream.read(min(_CHUNK, length - done))
            if not chunk:
                raise PublishError("the bundle's tar ends inside the image")
            if chunk != zero[: len(chunk)]:
                os.pwrite(fd, chunk, offset + done)
            done += len(chunk)


def unpack(manifest: Manifest, key: SessionKey, read_part: PartReader, output: Path) -> int:
    """Write the bundle's image to ``output`` (sparse); returns its size."""
    if manifest.size > MAX_IMAGE_SIZE:
        raise PublishError(f"the bundle's image is {manifest.size} bytes, more than 10 GiB")
    reader = _HashingReader(_plain_chunks(manifest, key, read_part))
    with atomic_writer(output) as fh:
        fd = fh.fileno()
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                member = tar.next()
                if member is None or not member.isfile():
                    raise PublishError("the bundle's tar holds no image file")
                if member.size != manifest.size:
                    raise PublishError(
                        f"the bundle's image is {member.size} bytes; its manifest says "
                        f"{manifest.size}"
                    )
                _write_member(tar, member, fd)
                os.ftruncate(fd, member.size)
        except tarfile.TarError as exc:
            raise PublishError(f"the bundle's tar is damaged: {exc}") from None
        reader.drain()
        if reader.sha1.hexdigest() != manifest.digest:
            raise PublishError("the bundle's image does not match the digest in its manifest")
    return manifest.size
