"""Signs and verifies Standard Webhooks messages with the reference Python library
(`standardwebhooks` on PyPI), so the tests can check UAEF's implementation against it.

    standard_webhooks_interop.py sign SECRET ID TIMESTAMP BODY_FILE    prints the webhook-signature value
    standard_webhooks_interop.py verify SECRET ID TIMESTAMP SIGNATURE BODY_FILE
                                                                      exit 0 when valid, 1 with the reason
"""
import datetime
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main(argv):
    mode, secret, msg_id, timestamp = argv[1:5]
    webhook = Webhook(secret)
    if mode == "sign":
        with open(argv[5], encoding="utf-8") as body:
            data = body.read()
        when = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.timezone.utc)
        print(webhook.sign(msg_id, when, data))
        return 0
    signature = argv[5]
    with open(argv[6], "rb") as body:
        data = body.read()
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    try:
        webhook.verify(data, headers, json_parse=False)
    except WebhookVerificationError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
