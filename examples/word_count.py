#!/usr/bin/env python3
"""The work of a remote agent run by `uaef agent run -- python3 examples/word_count.py`:
the claimed task arrives as JSON on stdin; the output JSON goes to stdout."""
import json, sys

task = json.load(sys.stdin)
print(json.dumps({"words": len(str(task["input"]["text"]).split()), "task": task["key"]}))
