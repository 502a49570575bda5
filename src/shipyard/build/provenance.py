"""Provenance: how a build was made, as an in-toto statement with a SLSA v1 predicate.

``provenance.intoto.json`` names the build's outputs (each disk format and the bill of
materials, by sha256) as its subjects, and says what made them: the builder, the
manifest and its digest, the mirror, and every installed package as a resolved input.
``provenance.intoto.json.asc`` is a detached signature by the catalog's key; a build
signs when that key exists, and ``catalog add`` signs what is still unsigned.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipyard import __version__
from shipyard.errors import CatalogError, VerifyError
from shipyard.record import BuildRecord, ProvenanceFile

PROVENANCE_NAME = "provenance.intoto.json"
SIGNATURE_NAME = f"{PROVENANCE_NAME}.asc"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://shipyard.invalid/build-types/image/v1"
BUILDER_ID = "https://shipyard.invalid/builder/shipyard"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class ResourceDescriptor(_Model):
    name: str | None = None
    uri: str | None = None
    digest: dict[str, str] = {}


class BuildDefinition(_Model):
    build_type: str = Field(alias="buildType")
    external_parameters: dict[str, object] = Field(alias="externalParameters")
    internal_parameters: dict[str, object] = Field(alias="internalParameters")
    resolved_dependencies: list[ResourceDescriptor] = Field(alias="resolvedDependencies")


class Builder(_Model):
    id: str
    version: dict[str, str] = {}


class RunMetadata(_Model):
    invocation_id: str = Field(alias="invocationId")
    started_on: str = Field(alias="startedOn")
    finished_on: str | None = Field(default=None, alias="finishedOn")


class RunDetails(_Model):
    builder: Builder
    metadata: RunMetadata


class Predicate(_Model):
    build_definition: BuildDefinition = Field(alias="buildDefinition")
    run_details: RunDetails = Field(alias="runDetails")


class Statement(_Model):
    type: str = Field(default=STATEMENT_TYPE, alias="_type")
    subject: list[ResourceDescriptor]
    predicate_type: str = Field(default=SLSA_PROVENANCE, alias="predicateType")
    predicate: Predicate


def subjects(record: BuildRecord) -> list[ResourceDescriptor]:
    """The build's outputs, by name and sha256."""
    outputs = [(a.path, a.sha256) for a in record.formats.values()]
    outputs += [(s.path, s.sha256) for s in record.sbom]
    return [ResourceDescriptor(name=name, digest={"sha256": digest}) for name, digest in outputs]


def statement(record: BuildRecord, deb_digests: dict[str, str]) -> Statement:
    """The provenance of the complete build ``record``; ``deb_digests``: purl → .deb sha256."""
    packages = record.manifest.get("packages", {})
    mirror = packages.get("mirror") if isinstance(packages, dict) else None
    dependencies = [ResourceDescriptor(name="mirror", uri=str(mirror))] if mirror else []
    for name, version in record.packages.items():
        purl = _purl(name, version, record)
        digest = {"sha256": deb_digests[purl]} if purl in deb_digests else {}
        dependencies.append(ResourceDescriptor(name=name, uri=purl, digest=digest))
    return Statement(
        subject=subjects(record),
        predicate=Predicate(
            build_definition=BuildDefinition(
                build_type=BUILD_TYPE,
                external_parameters={
                    "manifest": {
                        "path": record.manifest_path,
                        "digest": {"sha256": record.manifest_sha256},
                    },
                    "resolved": record.manifest,
                },
                internal_parameters={"tools": record.tools, "cache": record.cache},
                resolved_dependencies=dependencies,
            ),
            run_details=RunDetails(
                builder=Builder(id=BUILDER_ID, version={"shipyard": __version__}),
                metadata=RunMetadata(
                    invocation_id=record.id, started_on=record.created, finished_on=record.finished
                ),
            ),
        ),
    )


def _purl(name: str, version: str, record: BuildRecord) -> str:
    from packageurl import PackageURL

    # The record keeps no architecture per package: "all" packages are named by the image's.
    return PackageURL(
        type="deb",
        namespace="debian",
        name=name,
        version=version,
        qualifiers={"arch": record.architecture, "distro": f"debian-{record.release}"},
    ).to_string()


def sbom_deb_digests(build_dir: Path, record: BuildRecord) -> dict[str, str]:
    """purl (of the image's architecture) → .deb sha256, from the build's CycloneDX SBOM."""
    found: dict[str, str] = {}
    for sbom in record.sbom:
        if not sbom.format.startswith("cyclonedx"):
            continue
        doc = json.loads((build_dir / sbom.path).read_text())
        for component in doc.get("components", []):
            hashes = [h["content"] for h in component.get("hashes", []) if h["alg"] == "SHA-256"]
            if "purl" in component and hashes:
                found[_purl(component["name"], component["version"], record)] = hashes[0]
    return found


def write_provenance(
    build_dir: Path, record: BuildRecord, signing_home: Path | None
) -> ProvenanceFile:
    """Write the provenance (signed when ``signing_home`` is given); returns what to record."""
    import hashlib

    data = statement(record, sbom_deb_digests(build_dir, record))
    text = json.dumps(data.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2)
    text += "\n"
    (build_dir / PROVENANCE_NAME).write_text(text, encoding="utf-8")
    signature = sign_provenance(build_dir, signing_home) if signing_home is not None else None
    return ProvenanceFile(
        path=PROVENANCE_NAME,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        signature=signature.name if signature else None,
    )


def sign_provenance(build_dir: Path, home: Path) -> Path:
    """Sign the build's provenance with the catalog key in ``home``; returns the signature."""
    from shipyard.catalog.sign import detach_sign

    signature = build_dir / SIGNATURE_NAME
    signature.write_bytes(detach_sign(home, (build_dir / PROVENANCE_NAME).read_bytes()))
    return signature


def read_statement(path: Path) -> Statement:
    try:
        return Statement.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise VerifyError(f"{path.name}: not a readable in-toto statement ({exc})") from exc


def check_provenance(
    build_dir: Path, record: BuildRecord, trusted: Path | None = None
) -> list[str]:
    """VerifyError unless the provenance names exactly the recorded outputs and is well signed."""
    from shipyard.catalog.sign import verifier

    path = build_dir / PROVENANCE_NAME
    if record.provenance is not None:
        import hashlib

        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != record.provenance.sha256:
            raise VerifyError(
                f"{path.name}: its sha256 is {actual[:16]}… but build.json records "
                f"{record.provenance.sha256[:16]}…"
            )
    found = read_statement(path)
    if found.type != STATEMENT_TYPE or found.predicate_type != SLSA_PROVENANCE:
        raise VerifyError(f"{path.name}: not an in-toto statement of SLSA provenance v1")
    said = {s.name: s.digest.get("sha256") for s in found.subject}
    for expected in subjects(record):
        if said.get(expected.name) != expected.digest["sha256"]:
            raise VerifyError(
                f"{path.name}: its digest of {expected.name} differs from build.json's"
            )
    ext = found.predicate.build_definition.external_parameters.get("manifest")
    if not isinstance(ext, dict) or ext.get("digest") != {"sha256": record.manifest_sha256}:
        raise VerifyError(f"{path.name}: its manifest digest differs from build.json's")
    checked = [f"{path.name}: names every output by its recorded sha256"]
    signature = build_dir / SIGNATURE_NAME
    if not signature.exists():
        return [*checked, f"{SIGNATURE_NAME}: absent (the provenance is not signed)"]
    checker = verifier(trusted)
    try:
        checker.verify_detached(path.read_bytes(), signature, path.name)
    except CatalogError as exc:
        raise VerifyError(str(exc)) from exc
    finally:
        checker.close()
    return [*checked, f"{SIGNATURE_NAME}: a good signature by a trusted key"]
