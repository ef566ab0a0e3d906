#!/usr/bin/env python3
"""A real Secrets Manager for the Lambda tests: moto's server (`moto[server]` on PyPI) with request
signing and IAM policies enforced, holding one secret as a function's configuration.

    moto_secrets.py serve SECRET_JSON_FILE
        Starts moto on a free loopback port with INITIAL_NO_AUTH_ACTION_COUNT, so that after the
        setup below every request must carry a valid Signature Version 4 made with a key moto's
        IAM knows, allowed by its policy. Creates the secret `uaef-config` with the file's text as
        its SecretString and an IAM user allowed secretsmanager:GetSecretValue only. Prints one JSON line {"port", "endpoint", "access_key_id", "secret_access_key", "arn"},
        then serves until killed.
"""
import json
import os
import sys

REGION = "us-east-1"


def serve(secret_file):
    # Requests before the count is used up need no signature: the setup below uses them.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
    from moto.server import ThreadedMotoServer
    import boto3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_port
    endpoint = f"http://127.0.0.1:{port}"
    setup = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="setup", aws_secret_access_key="setup")
    with open(secret_file) as handle:
        text = handle.read()
    arn = boto3.client("secretsmanager", **setup).create_secret(Name="uaef-config", SecretString=text)["ARN"]
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="uaef-function")
    policy = {
        "Version": "2012-10-17",
        # moto matches IAM resources only as "*"; the action is what the test restricts.
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="uaef-function", PolicyName="config", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="uaef-function")["AccessKey"]
    print(
        json.dumps(
            {
                "port": port,
                "endpoint": endpoint,
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
                "arn": arn,
            }
        ),
        flush=True,
    )
    try:
        import threading

        threading.Event().wait()
    finally:
        server.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
