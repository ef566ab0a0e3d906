#!/usr/bin/env python3
"""Checks UAEF's Slack parts against Slack's official Python SDK (slack_sdk, PyPI, installed by
scripts/test), as an independent implementation of the same wire protocol.

  slack_sdk_check.py sign SECRET TIMESTAMP BODY_FILE
      prints the SDK's X-Slack-Signature for the body
  slack_sdk_check.py verify SECRET TIMESTAMP SIGNATURE BODY_FILE
      exits 0 when the SDK's SignatureVerifier accepts the request, 1 when it refuses it
  slack_sdk_check.py client BASE_URL TOKEN CHANNEL
      drives the SDK's WebClient against a Slack Web API at BASE_URL (the fake) and prints what
      it saw as JSON; the server is expected to answer the first call 429 with Retry-After: 7
"""
import json
import sys

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier


def client(base_url, token, channel):
    seen = {}
    web = WebClient(token=token, base_url=base_url.rstrip("/") + "/")
    try:
        web.auth_test()
        seen["rate_limited"] = None
    except SlackApiError as error:
        seen["rate_limited"] = {"status": error.response.status_code,
                                "retry_after": error.response.headers.get("Retry-After"),
                                "error": error.response["error"]}
    auth = web.auth_test()
    seen["auth"] = {"team_id": auth["team_id"], "user_id": auth["user_id"]}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]
    posted = web.chat_postMessage(channel=channel, text="hello", blocks=blocks)
    seen["posted"] = {"ok": posted["ok"], "channel": posted["channel"], "ts": posted["ts"],
                      "blocks": posted["message"]["blocks"]}
    updated = web.chat_update(channel=channel, ts=posted["ts"], text="hello again")
    seen["updated"] = {"ok": updated["ok"], "ts": updated["ts"], "text": updated["text"]}
    ephemeral = web.chat_postEphemeral(channel=channel, user="U0SOMEONE1", text="only you")
    seen["ephemeral"] = {"ok": ephemeral["ok"], "has_ts": bool(ephemeral["message_ts"])}
    errors = {}
    for name, call in [
        ("unknown_channel", lambda: web.chat_postMessage(channel="C0NOWHERE1", text="x")),
        ("no_text", lambda: web.chat_postMessage(channel=channel)),
        ("unknown_ts", lambda: web.chat_update(channel=channel, ts="1.000001", text="x")),
        ("bad_token", lambda: WebClient(token="xoxb-wrong", base_url=web.base_url).auth_test()),
    ]:
        try:
            call()
            errors[name] = None
        except SlackApiError as error:
            errors[name] = error.response["error"]
    seen["errors"] = errors
    print(json.dumps(seen, sort_keys=True))


def main(argv):
    command = argv[1]
    if command == "sign":
        secret, timestamp, path = argv[2:5]
        body = open(path, "rb").read().decode("utf-8")
        print(SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body))
    elif command == "verify":
        secret, timestamp, signature, path = argv[2:6]
        body = open(path, "rb").read().decode("utf-8")
        valid = SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature)
        print("valid" if valid else "invalid")
        sys.exit(0 if valid else 1)
    elif command == "client":
        client(*argv[2:5])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
