#!/usr/bin/env python3
"""Validates Adaptive Cards against the published Adaptive Card schema 1.5.0
(Tests/Fixtures/adaptive-card-1.5.0.json: microsoft/AdaptiveCards, schemas/1.5.0/adaptive-card.json
at commit 93695cf2df1117ab08e36ebe707d0ced18e4e9b3), with the jsonschema package.

  adaptive_card_check.py CARDS_FILE
      CARDS_FILE holds a JSON list of cards; prints one line per problem, exits 1 if any
"""
import json
import os
import sys

import jsonschema

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "adaptive-card-1.5.0.json")


def main(path):
    with open(SCHEMA, encoding="utf-8-sig") as file:
        schema = json.load(file)
    validator = jsonschema.Draft6Validator(schema)
    with open(path, encoding="utf-8") as file:
        cards = json.load(file)
    problems = [f"card {index}: {error.message} at {list(error.absolute_path)}"
                for index, card in enumerate(cards) for error in validator.iter_errors(card)]
    # A schema that accepted anything would prove nothing: a card with an unknown element must fail.
    broken = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "Marquee", "text": "x"}]}
    if not list(validator.iter_errors(broken)):
        problems.append("the schema accepted an unknown element type")
    for problem in problems:
        print(problem)
    print(f"{len(cards)} cards checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv[1])
