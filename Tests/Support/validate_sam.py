#!/usr/bin/env python3
"""Validates deploy/template.yaml offline, as the deployment tools would check it.

    validate_sam.py TEMPLATE OUTPUT_DIRECTORY

1. Transforms the SAM template into plain CloudFormation with aws-sam-translator (the library
   `sam validate` and CloudFormation's transform use), its local CodeUri replaced by the S3
   location `sam package` would upload it to, and no managed policy lookups (offline).
2. Runs cfn-lint on the transformed template and on the SAM template itself.

Prints one JSON line {"resources": [types], "lint": {"template": [...], "transformed": [...]}} and
exits 0 when both lints are clean, 1 otherwise.
"""
import json
import os
import shutil
import subprocess
import sys

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform


class OfflinePolicies:
    """No IAM lookups: SAM's policy templates need none, and the template names no managed policy."""

    def load(self):
        return {}


def main():
    template_path, output = sys.argv[1], sys.argv[2]
    # The transform resolves AWS::Region for ARNs; any region will do offline.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(template_path) as handle:
        template, matches = decode_str(handle.read())
    if matches:
        print(json.dumps({"error": [str(match) for match in matches]}))
        return 1
    template["Globals"]["Function"]["CodeUri"] = "s3://uaef-artifacts/bootstrap.zip"
    parameters = {"ConfigSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:uaef-config-AbCdEf"}
    transformed = transform(template, parameters, OfflinePolicies())
    transformed_path = os.path.join(output, "transformed.json")
    with open(transformed_path, "w") as handle:
        json.dump(transformed, handle, indent=1, default=str)
    lint = {}
    for name, path in (("template", template_path), ("transformed", transformed_path)):
        result = subprocess.run(
            [shutil.which("cfn-lint") or "cfn-lint", "--format", "json", "--", path], capture_output=True, text=True
        )
        # Exit codes are a bit mask (2 errors, 4 warnings, 8 notes); anything else, or no JSON, is
        # cfn-lint failing to run, never a clean result.
        if result.returncode & ~0b1110 or not result.stdout.strip().startswith("["):
            raise SystemExit(f"cfn-lint failed on {path} (exit {result.returncode}): {result.stderr[-2000:]}")
        lint[name] = [
            {"rule": m["Rule"]["Id"], "level": m["Level"], "path": m["Location"]["Path"], "message": m["Message"]}
            for m in json.loads(result.stdout)
        ]
    resources = sorted({resource["Type"] for resource in transformed["Resources"].values()})
    print(json.dumps({"resources": resources, "lint": lint}))
    return 0 if not lint["template"] and not lint["transformed"] else 1


if __name__ == "__main__":
    sys.exit(main())
