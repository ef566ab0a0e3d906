#!/usr/bin/env python3
"""A real SQS implementation for the connector tests and benchmarks: moto's server (`moto[server]`
on PyPI) with request signing enforced, plus boto3 (the official AWS SDK for Python) as the
independent client that puts messages in and reads them out.

    moto_sqs.py serve
        Starts moto on a free loopback port with INITIAL_NO_AUTH_ACTION_COUNT, so that after the
        setup below every request must carry a valid Signature Version 4 made with a key moto's
        IAM knows (a wrong secret is a real 403 SignatureDoesNotMatch). Creates an IAM user with
        an sqs:* policy and an access key, and the queues `orders`, `events.fifo`, `bench` and `intake`
        (whose redrive policy sends a message to `intake-dlq` after 3 receives). Prints one JSON
        line {"port", "endpoint", "access_key_id", "secret_access_key", "queues": {name: url}},
        then serves until killed.

    moto_sqs.py send ENDPOINT KEY SECRET QUEUE_URL BODY [ATTRIBUTES_JSON]
        Sends one message with boto3; prints {"message_id"}.

    moto_sqs.py drain ENDPOINT KEY SECRET QUEUE_URL
        Receives and deletes every visible message with boto3; prints a JSON list of
        {"id", "body", "attributes", "group", "dedup"}.

    moto_sqs.py count ENDPOINT KEY SECRET QUEUE_URL
        Prints {"visible", "in_flight"} from GetQueueAttributes.

    moto_sqs.py loop ENDPOINT KEY SECRET QUEUE_URL COUNT
        The benchmark's reference: fills the queue with COUNT messages, then receives (10 at a
        time) and deletes (in batches) until all are gone, timing the receive/delete loop only;
        prints {"messages", "seconds", "per_second"}.
"""
import json
import os
import sys
import time

REGION = "us-east-1"


def client(endpoint, key, secret):
    import boto3

    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret
    )


def serve():
    # Requests before the count is used up need no signature: the setup below uses them.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "8"
    from moto.server import ThreadedMotoServer
    import boto3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_port
    endpoint = f"http://127.0.0.1:{port}"
    setup = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="setup", aws_secret_access_key="setup")
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="uaef")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="uaef", PolicyName="sqs", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="uaef")["AccessKey"]
    sqs = boto3.client("sqs", **setup)
    queues = {"orders": sqs.create_queue(QueueName="orders")["QueueUrl"]}
    queues["events.fifo"] = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queues["bench"] = sqs.create_queue(QueueName="bench")["QueueUrl"]
    queues["intake-dlq"] = sqs.create_queue(QueueName="intake-dlq")["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:{REGION}:123456789012:intake-dlq"
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    queues["intake"] = sqs.create_queue(
        QueueName="intake", Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "2"}
    )["QueueUrl"]
    print(
        json.dumps(
            {
                "port": port,
                "endpoint": endpoint,
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
                "queues": queues,
            }
        ),
        flush=True,
    )
    while True:
        time.sleep(3600)


def main():
    command = sys.argv[1]
    if command == "serve":
        serve()
        return
    endpoint, key, secret, queue = sys.argv[2:6]
    sqs = client(endpoint, key, secret)
    if command == "send":
        attributes = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
        answer = sqs.send_message(
            QueueUrl=queue,
            MessageBody=sys.argv[6],
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        print(json.dumps({"message_id": answer["MessageId"]}))
    elif command == "drain":
        messages = []
        while True:
            answer = sqs.receive_message(
                QueueUrl=queue,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            batch = answer.get("Messages", [])
            if not batch:
                break
            for message in batch:
                system = message.get("Attributes", {})
                messages.append(
                    {
                        "id": message["MessageId"],
                        "body": message["Body"],
                        "attributes": {
                            k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()
                        },
                        "group": system.get("MessageGroupId"),
                        "dedup": system.get("MessageDeduplicationId"),
                    }
                )
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        print(json.dumps(messages))
    elif command == "count":
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        print(
            json.dumps(
                {
                    "visible": int(attributes["ApproximateNumberOfMessages"]),
                    "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
                }
            )
        )
    elif command == "loop":
        count = int(sys.argv[6])
        for start in range(0, count, 10):
            entries = [{"Id": str(i), "MessageBody": json.dumps({"n": start + i})} for i in range(min(10, count - start))]
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        done = 0
        began = time.perf_counter()
        while done < count:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if batch:
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
                )
                done += len(batch)
        seconds = time.perf_counter() - began
        print(json.dumps({"messages": done, "seconds": seconds, "per_second": done / seconds}))
    else:
        sys.exit(f"moto_sqs.py: unknown command {command}")


if __name__ == "__main__":
    main()
