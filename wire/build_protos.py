"""``python -m wire.build_protos``: generate the Python gRPC stubs for ``proto/`` into
``wire/pb/`` (git-ignored; ``make`` runs this after installing the dependencies), each with its
type stub (``.pyi``) so that mypy checks every use of the messages and services.

Each ``proto/<name>/<name>.proto`` is compiled as if it lived at ``wire/pb/<name>/``, so the
generated modules import each other as ``wire.pb.<name>`` and need nothing on sys.path. The
proto packages (``goverse``, ``gate``, ``inspector``, ``chat``), and so every message's full name
and ``type.googleapis.com/…`` type URL, are the ones in the .proto files.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_PACKAGE = Path("wire") / "pb"
# mypy-protobuf's plugin, installed beside this interpreter, writes the type stubs (.pyi) of the
# gRPC service modules; protoc's own --pyi_out writes those of the messages.
GRPC_STUBS_PLUGIN = f"protoc-gen-mypy_grpc={Path(sys.executable).parent / 'protoc-gen-mypy_grpc'}"


def build() -> list[Path]:
    """Compile every proto; returns the generated files."""
    protos = sorted(PROTO_DIR.glob("*/*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_DIR}")
    include = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch)
        for proto in protos:
            target = staged / OUT_PACKAGE / proto.parent.name / proto.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(proto, target)
        sources = [str(OUT_PACKAGE / p.parent.name / p.name) for p in protos]
        code = protoc.main(["grpc_tools.protoc", f"-I{staged}", f"-I{include}",
                            f"--python_out={ROOT}", f"--pyi_out={ROOT}",
                            f"--grpc_python_out={ROOT}", f"--plugin={GRPC_STUBS_PLUGIN}",
                            "--mypy_grpc_opt=quiet", f"--mypy_grpc_out={ROOT}", *sources])
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    for folder in [ROOT / OUT_PACKAGE, *(ROOT / OUT_PACKAGE / p.parent.name for p in protos)]:
        (folder / "__init__.py").touch()
    return sorted((ROOT / OUT_PACKAGE).rglob("*_pb2*.py"))


if __name__ == "__main__":
    generated = build()
    print(f"generated {len(generated)} modules in {OUT_PACKAGE}/", file=sys.stderr)
