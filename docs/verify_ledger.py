#!/usr/bin/env python3
"""Verify a UAEF ledger export and checkpoint with standard tools only (hashlib, cryptography).

    uaef ledger export --store sqlite:uaef.db > events.jsonl
    uaef ledger checkpoint --store sqlite:uaef.db > checkpoint.txt
    uaef ledger key --store sqlite:uaef.db > key.txt
    python3 docs/verify_ledger.py events.jsonl checkpoint.txt "$(cat key.txt)"

    uaef ledger report --run RUN_ID --format json > report.json
    python3 docs/verify_ledger.py --report report.json "$(cat key.txt)"

The first form recomputes every leaf as SHA-256(0x00 || RFC 8785 bytes of the event), checks each
payload (task input or output stored beside its event) against the "<name>_sha256" digest the event
carries, the RFC 6962 root over the first <checkpoint size> leaves, and the checkpoint's C2SP
signed-note Ed25519 signature. The second checks a run's compliance report: the checkpoint's signature, and for each
event its leaf hash and its RFC 9162 inclusion proof against the checkpoint's root. Exit 0 when
everything matches.
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def canonical(value):
    """RFC 8785 for the values UAEF exports (integers, decimals that doubles hold, strings)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(canonical(k) + ":" + canonical(value[k]) for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, float):
        text = repr(value)
        if text.endswith(".0"):
            text = text[:-2]
        if "e" in text:  # ECMAScript writes 1e-7 and 1e+21
            mantissa, exponent = text.split("e")
            text = mantissa + "e" + ("-" if exponent.startswith("-") else "+") + exponent.lstrip("+-").lstrip("0")
        return text
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def root(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + root(hashes[:k]) + root(hashes[k:])).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, proof, expected_root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def open_checkpoint(note, verifier_key):
    """Checks the C2SP signed note's Ed25519 signature; returns (origin, size, root bytes)."""
    text, signatures = note.split("\n\n", 1)
    text += "\n"
    name, key_id, key = verifier_key.split("+", 2)
    public_key = base64.b64decode(key)[1:]
    expected_id = hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]
    if expected_id.hex() != key_id:
        sys.exit("verifier key: key ID does not match")
    for line in signatures.splitlines():
        _, signer, blob = line.split(" ")
        blob = base64.b64decode(blob)
        if signer == name and blob[:4] == expected_id:
            Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], text.encode("utf-8"))
            origin, size, root_b64 = text.splitlines()[:3]
            return origin, int(size), base64.b64decode(root_b64)
    sys.exit("checkpoint: no signature by the verifier key")


def check_report(report_path, verifier_key):
    report = json.load(open(report_path, encoding="utf-8"))
    origin, size, expected_root = open_checkpoint(report["checkpoint"], verifier_key)
    for entry in report["events"]:
        leaf = hashlib.sha256(b"\x00" + canonical(entry["event"]).encode("utf-8")).digest()
        proof = [base64.b64decode(p) for p in entry["proof"]]
        if base64.b64encode(leaf).decode() != entry["leaf_hash"]:
            sys.exit(f"event {entry['index']}: leaf hash does not match its event")
        if not verify_inclusion(leaf, entry["index"], size, proof, expected_root):
            sys.exit(f"event {entry['index']}: inclusion proof does not lead to the checkpoint's root")
    about = f"run {report['run_id']}" if "run_id" in report else f"settlement {report['settlement_id']}"
    print(f"ok: {len(report['events'])} events of {about} are in the tree of {size} signed by {origin}")


def main(export_path, checkpoint_path, verifier_key):
    leaves = []
    payloads = 0
    with open(export_path, encoding="utf-8") as export:
        for line in export:
            entry = json.loads(line)
            leaf = hashlib.sha256(b"\x00" + canonical(entry["event"]).encode("utf-8")).digest()
            if entry["index"] != len(leaves) or base64.b64encode(leaf).decode() != entry["leaf_hash"]:
                sys.exit(f"event {entry['index']}: leaf hash does not match its event")
            leaves.append(leaf)
            # Task inputs and outputs sit beside the event; the event carries each one's SHA-256.
            for name, payload in entry.get("payloads", {}).items():
                digest = hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()
                if entry["event"]["data"].get(name + "_sha256") != digest:
                    sys.exit(f"event {entry['index']}: its {name} payload does not match the digest in the event")
                payloads += 1

    origin, size, expected_root = open_checkpoint(open(checkpoint_path, encoding="utf-8").read(), verifier_key)
    if size > len(leaves) or root(leaves[:size]) != expected_root:
        sys.exit("checkpoint: root does not match the exported events")
    print(f"ok: {len(leaves)} events, {payloads} payloads; checkpoint {origin} size {size} verifies")


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        check_report(sys.argv[2], sys.argv[3])
    else:
        main(*sys.argv[1:4])
