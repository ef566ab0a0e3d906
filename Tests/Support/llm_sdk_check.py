"""Drives UAEF's fake model provider (uaef dev fake-llm) with the official Python SDKs
(anthropic 0.121.0, openai 3.57.0), whole and streamed, and prints what the SDKs parsed as one
JSON object, so a test can check that the fake speaks the real wire format and that UAEF's
client reads the same answers the SDKs do.

    python3 llm_sdk_check.py BASE_URL API_KEY
"""
import json
import sys

import anthropic
import openai


def anthropic_summary(message):
    return {
        "text": "".join(block.text for block in message.content if block.type == "text"),
        "tools": [
            {"id": block.id, "name": block.name, "input": block.input}
            for block in message.content
            if block.type == "tool_use"
        ],
        "stop_reason": message.stop_reason,
        "usage": {
            "input": message.usage.input_tokens,
            "output": message.usage.output_tokens,
            "cache_read": message.usage.cache_read_input_tokens or 0,
        },
    }


def openai_summary(completion):
    message = completion.choices[0].message
    cached = 0
    if completion.usage.prompt_tokens_details is not None:
        cached = completion.usage.prompt_tokens_details.cached_tokens or 0
    return {
        "text": message.content or "",
        "tools": [
            {"id": call.id, "name": call.function.name, "input": json.loads(call.function.arguments)}
            for call in message.tool_calls or []
        ],
        "stop_reason": completion.choices[0].finish_reason,
        "usage": {
            "input": completion.usage.prompt_tokens - cached,
            "output": completion.usage.completion_tokens,
            "cache_read": cached,
        },
    }


def main():
    base, key = sys.argv[1], sys.argv[2]
    request = {"max_tokens": 256, "messages": [{"role": "user", "content": "Check INV-7"}]}
    claude = anthropic.Anthropic(base_url=base, api_key=key, max_retries=2)
    gpt = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=2)
    result = {}
    result["anthropic_whole"] = anthropic_summary(claude.messages.create(model="two-tools", **request))
    with claude.messages.stream(model="two-tools", **request) as stream:
        result["anthropic_stream"] = anthropic_summary(stream.get_final_message())
    result["anthropic_retried"] = anthropic_summary(claude.messages.create(model="flaky-anthropic", **request))
    result["openai_whole"] = openai_summary(gpt.chat.completions.create(model="two-tools", **request))
    with gpt.chat.completions.stream(model="two-tools", **request) as stream:
        result["openai_stream"] = openai_summary(stream.get_final_completion())
    result["openai_retried"] = openai_summary(gpt.chat.completions.create(model="flaky-openai", **request))
    try:
        claude.messages.create(model="broken-anthropic", **request)
        result["anthropic_error"] = None
    except anthropic.APIStatusError as error:
        result["anthropic_error"] = {"status": error.status_code, "type": error.body["error"]["type"]}
    print(json.dumps(result))


main()
