#!/usr/bin/env python3
"""Drives the fake Jira Cloud REST API with the `jira` Python package (3.10.5, PyPI, installed
by scripts/test), an independent client, and prints what it saw as JSON.

  jira_client_check.py BASE_URL EMAIL TOKEN
"""
import json
import sys

from jira import JIRA, JIRAError


def main(base, email, token):
    seen = {}
    # The server's info (deploymentType Cloud) makes the client use Cloud's enhanced search.
    jira = JIRA(server=base, basic_auth=(email, token), options={"rest_api_version": "3"})
    description = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Created by the jira package."}]}]}
    issue = jira.create_issue(fields={"project": {"key": "OPS"}, "summary": "from the client",
                                      "issuetype": {"name": "Task"}, "labels": ["client-check"],
                                      "description": description})
    seen["created"] = {"key": issue.key, "summary": issue.fields.summary, "labels": issue.fields.labels}
    found = jira.enhanced_search_issues('project = "OPS" AND labels = "client-check"', json_result=True,
                                        maxResults=5)
    seen["found"] = [found_issue["key"] for found_issue in found["issues"]]
    seen["myself"] = jira.myself()["displayName"]
    errors = {}
    for name, call in [
        ("no_summary", lambda: jira.create_issue(fields={"project": {"key": "OPS"}, "summary": "",
                                                         "issuetype": {"name": "Task"}})),
        ("bad_description", lambda: jira.create_issue(fields={
            "project": {"key": "OPS"}, "summary": "x", "issuetype": {"name": "Task"},
            "description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}})),
        ("unknown_project", lambda: jira.create_issue(fields={"project": {"key": "NOPE"}, "summary": "x",
                                                              "issuetype": {"name": "Task"}})),
        ("bad_token", lambda: JIRA(server=base, basic_auth=(email, "wrong"), options={"rest_api_version": "3"},
                                   get_server_info=False, max_retries=0).myself()),
    ]:
        try:
            call()
            errors[name] = None
        except JIRAError as error:
            errors[name] = {"status": error.status_code, "text": error.text}
    seen["errors"] = errors
    print(json.dumps(seen, sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:4])
