"""`make package`: one SAM/CloudFormation template with everything, plus the code zip.

1. writes each function's IAM policy (.chalice/policy-<stage>-<fn>.json) and the merge
   template (deploy/merge-template-<stage>.json, kept in the repo), both generated from the code;
2. runs `chalice package --stage <stage> --merge-template ...` (Lambda wheels from PyPI);
3. drops the API models of the AWS services no function calls from botocore's data (see
   AWS_SERVICES), and precompiles the bytecode into deployment.zip (a Lambda zip has no .pyc
   otherwise, and a cold start would compile every module: 770 ms vs 332 ms measured for a
   naive app);
4. writes edge-firewall.json beside sam.json: the web distribution's web ACL, a stack of its own
   for us-east-1 (`edge_firewall`), whose EdgeWebAclArn output the main stack takes as a parameter;
5. prints the zipped size (Lambda's direct-upload limit is 50 MB; ours is kept under 30).
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from deploy.template import ROOT, edge_firewall, merge_template, override, policies

LIMIT_MB = 50
# The AWS services the functions call (adapters/aws.py, adapters/websocket.py; kms and sts for
# the Encryption SDK's KMS keyrings and credentials). We ship our own pinned boto3/botocore
# rather than the Lambda runtime's: the version the tests ran is the version that runs, and a
# runtime update cannot change the ledger's retry or error behaviour under us. The price is
# botocore's models of ~440 services (15.6 of 42.8 MB zipped); only these are kept.
# tests/deploy/test_package.py checks that every client the code makes is in this list.
AWS_SERVICES = ("dynamodb", "ssm", "sqs", "ses", "sns", "apigatewaymanagementapi", "kms", "sts")


# What statements as PDF (fpdf2, core fonts only: adapters/statement_pdf.py) never load: Pillow
# (fpdf2 imports it only if present: we embed no image), fontTools' compiled accelerators (each
# has its pure-Python module beside it) and the fontTools packages fpdf2 never imports. 7.7 of
# fpdf2's 10.8 MB zipped; tests/deploy/test_package.py renders a statement from the pruned zip.
PDF_UNUSED = ("PIL", "pillow.libs", "fontTools/ufoLib", "fontTools/t1Lib", "fontTools/mtiLib", "fontTools/voltLib",
              "fontTools/merge", "fontTools/qu2cu", "fontTools/cu2qu", "fontTools/afmLib", "fontTools/fontBuilder.py",
              "fontTools/misc/symfont.py", "fontTools/tfmLib.py",
              "fontTools/varLib/interpolatable.py", "fontTools/varLib/plot.py", "fontTools/varLib/mutator.py",
              "fontTools/varLib/interpolate_layout.py")


def prune(folder: Path) -> None:
    """Remove botocore's models of every service not in AWS_SERVICES (its shared files stay),
    what the PDF library never loads (PDF_UNUSED), and files no import ever reads."""
    data = folder / "botocore" / "data"
    for service in data.iterdir() if data.is_dir() else []:
        if service.is_dir() and service.name not in AWS_SERVICES:
            shutil.rmtree(service)
    for name in PDF_UNUSED:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for accelerator in (folder / "fontTools").rglob("*.so"):
        accelerator.unlink()
    # Never loaded either: the C sources shipped beside compiled extensions (fontTools, wrapt;
    # 0.85 MB zipped), and Powertools' Swagger UI (its API resolver, which we do not use).
    for source in folder.rglob("*.c"):
        source.unlink()
    shutil.rmtree(folder / "aws_lambda_powertools" / "event_handler" / "openapi" / "swagger_ui", ignore_errors=True)


def precompile(zip_path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(tmp)
        prune(Path(tmp))
        # Unchecked-hash .pyc files in __pycache__: valid whatever the files' timestamps become
        # when Lambda unpacks the zip (timestamp-checked ones would be stale and recompiled on
        # every cold start, since /var/task is read-only). Same Python version as the runtime.
        compileall.compile_dir(tmp, quiet=2, legacy=False, optimize=0, workers=0,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        out = zip_path.with_suffix(".tmp.zip")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(tmp)), date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = (path.stat().st_mode & 0o777) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    z.writestr(info, path.read_bytes())
        out.replace(zip_path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", default=str(ROOT / "build" / "package"))
    args = parser.parse_args()
    out = Path(args.out)
    for fn, doc in policies(args.stage).items():
        (ROOT / ".chalice" / f"policy-{args.stage}-{fn}.json").write_text(json.dumps(doc, indent=2) + "\n")
    merge = ROOT / "deploy" / f"merge-template-{args.stage}.json"  # kept in the repo, regenerated here
    merge.write_text(json.dumps(merge_template(args.stage), indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run([str(chalice), "package", "--stage", args.stage, "--merge-template", str(merge), str(out)],
                   cwd=ROOT, env=env, check=True)
    sam = out / "sam.json"
    sam.write_text(json.dumps(override(json.loads(sam.read_text())), indent=2))
    (out / "edge-firewall.json").write_text(json.dumps(edge_firewall(args.stage), indent=2) + "\n")
    zip_path = out / "deployment.zip"
    precompile(zip_path)
    size = zip_path.stat().st_size / 2**20
    print(f"package: {out / 'sam.json'}, {out / 'edge-firewall.json'} and {zip_path}: {size:.1f} MB zipped "
          f"(limit {LIMIT_MB} MB)")
    return 0 if size < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
