"""Reads a Compose file as Docker Compose would, without a Docker engine.

Usage: compose_services.py COMPOSE SCHEMA

Validates COMPOSE against SCHEMA, the Compose Specification's JSON schema (the test passes
Tests/Fixtures/compose-spec.json: github.com/compose-spec/compose-spec, schema/compose-spec.json
at commit a08f8d51631b7127ddac3d2c65537db429d0f1d0), and prints one JSON object: "errors" (each
"path: message"; empty when valid) and "services" (each service's "command", "environment" and
"secrets", its YAML merge keys (`<<: *anchor`) resolved as Compose resolves them, variables left
uninterpolated).
"""
import json
import sys

import jsonschema
import yaml

compose_path, schema_path = sys.argv[1], sys.argv[2]
with open(compose_path) as file:
    compose = yaml.safe_load(file)
with open(schema_path) as file:
    schema = json.load(file)
validator = jsonschema.Draft7Validator(schema)
errors = sorted(
    "/".join(str(part) for part in error.absolute_path) + ": " + error.message
    for error in validator.iter_errors(compose)
)
services = {
    name: {
        "command": service.get("command", []),
        "environment": service.get("environment", {}),
        "secrets": service.get("secrets", []),
    }
    for name, service in (compose.get("services") or {}).items()
}
print(json.dumps({"errors": errors, "services": services}))
