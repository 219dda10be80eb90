#!/usr/bin/env python3
"""Verify a ClosedLoop audit export offline — no access to ClosedLoop needed.

    python verify_audit_export.py audit-acme.jsonl audit-checkpoints-acme.json [--public-key closedloop-audit.pem]
                                  [--complete]

The export is the audit log's JSON Lines download (optionally gzipped); the checkpoints file is the organization's
"Checkpoints" download (its signed chain heads, where its chain starts after retention, and the public key). The
script recomputes every row's content hash and row hash, checks that consecutive rows link, checks every checkpoint's
Ed25519 signature and that the row at its sequence number has exactly the signed hash. With --complete it also
requires the export to hold every row from the chain's start through the latest checkpoint (export the whole range,
no filters). Exit status 0: everything holds; 1: something does not (each problem is printed).

Stand-alone on purpose: Python 3.9+ and, for signatures, the `cryptography` package; an independent
implementation of the encoding in docs/audit.md, so it proves the documented procedure rather than reusing ours.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import ipaddress
import json
import sys
from datetime import UTC, datetime

GENESIS = "0" * 64
PLATFORM = "00000000-0000-0000-0000-000000000000"


def canonical(value) -> bytes:
    """Keys sorted, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def whole_numbers(value):
    """Whole floats as integers (PostgreSQL's JSONB gives 1e16 back as 10000000000000000)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def utc_micro(text: str) -> str:
    """ISO 8601 in UTC with microseconds, as hashed."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).isoformat(timespec="microseconds")


def address(text):
    """An IP address in its compressed form."""
    if text is None:
        return None
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def content_hash(row: dict) -> str:
    """SHA-256 of what erasure may rewrite."""
    return hashlib.sha256(canonical(whole_numbers({
        "before": row["before"], "after": row["after"], "metadata": row["metadata"] or {},
        "ip": address(row["ip"]), "user_agent": row["user_agent"],
    }))).hexdigest()  # fmt: skip


def row_hash(row: dict) -> str:
    """SHA-256 of "<prev_hash>:<chain_seq>:<digest of the row's fixed facts and content hash>"."""
    digest = hashlib.sha256(canonical({
        "id": row["id"], "created_at": utc_micro(row["created_at"]), "organization_id": row["organization_id"],
        "actor_user_id": row["actor_user_id"], "impersonator_user_id": row["impersonator_user_id"],
        "action": row["action"], "entity_type": row["entity_type"], "entity_id": row["entity_id"],
        "request_id": row["request_id"], "break_glass": bool(row["break_glass"]), "content_hash": row["content_hash"],
    })).hexdigest()  # fmt: skip
    return hashlib.sha256(f"{row['prev_hash']}:{row['chain_seq']}:{digest}".encode()).hexdigest()


def checkpoint_message(chain: str, checkpoint: dict) -> bytes:
    """What a checkpoint's signature covers."""
    return canonical({"chain": chain, "seq": checkpoint["seq"], "head_hash": checkpoint["head_hash"],
                      "signed_at": checkpoint["signed_at"]})  # fmt: skip


def read_rows(path: str):
    """The export's rows, one JSON object per line."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield number, json.loads(line)


def verify(rows_path: str, bundle: dict, public_key_pem: bytes | None, complete: bool) -> tuple[list[str], dict]:
    """Every problem found (empty: all holds) and a summary."""
    chain = bundle["chain"]
    problems: list[str] = []
    rows = []
    for number, row in read_rows(rows_path):
        if (row.get("organization_id") or PLATFORM) != chain:
            problems.append(f"line {number}: row {row.get('id')} belongs to another chain")
        elif row.get("chain_seq") is None:
            problems.append(f"line {number}: row {row.get('id')} was written outside the chain")
        else:
            rows.append(row)
    rows.sort(key=lambda r: r["chain_seq"])
    anchor = bundle.get("anchor") or {"seq": 0, "row_hash": GENESIS}
    previous = None
    redacted = gaps = 0
    for row in rows:
        seq = row["chain_seq"]
        if row.get("redacted_at"):
            redacted += 1  # erasure rewrote its content: the link still holds, the content check cannot
        elif content_hash(row) != row["content_hash"]:
            problems.append(f"row {seq} ({row['id']}): its before/after/metadata, address or browser were changed")
        if row_hash(row) != row["row_hash"]:
            problems.append(f"row {seq} ({row['id']}): the row was changed after it was written")
        if previous is not None and seq == previous["chain_seq"]:
            problems.append(f"row {seq} ({row['id']}): its sequence number appears twice")
        elif previous is not None and seq == previous["chain_seq"] + 1:
            if row["prev_hash"] != previous["row_hash"]:
                problems.append(f"row {seq} ({row['id']}): it does not follow the row before it")
        elif seq == anchor["seq"] + 1 and row["prev_hash"] != anchor["row_hash"]:
            problems.append(f"row {seq} ({row['id']}): it does not follow the chain's start")
        elif previous is not None or seq != anchor["seq"] + 1:
            gaps += 1
            if complete:
                start = previous["chain_seq"] + 1 if previous else anchor["seq"] + 1
                problems.append(f"rows {start}–{seq - 1} are not in the export")
        previous = row
    by_seq = {r["chain_seq"]: r for r in rows}
    checkpoints = bundle.get("checkpoints", [])
    public = None
    if checkpoints and public_key_pem is not None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        public = load_pem_public_key(public_key_pem)
        for cp in checkpoints:
            try:
                public.verify(bytes.fromhex(cp["signature"]), checkpoint_message(chain, cp))
            except (InvalidSignature, ValueError):
                problems.append(f"checkpoint {cp['seq']}: the signature is not the platform key's")
    covered = 0
    for cp in checkpoints:
        row = by_seq.get(cp["seq"])
        if row is not None:
            covered += 1
            if row["row_hash"] != cp["head_hash"]:
                problems.append(f"row {cp['seq']}: it differs from the checkpoint signed {cp['signed_at'][:10]}")
        elif cp["seq"] == anchor["seq"] and anchor["row_hash"] != cp["head_hash"]:
            problems.append(f"checkpoint {cp['seq']}: the chain's archived start differs from it")
    if complete and checkpoints:
        latest = max(cp["seq"] for cp in checkpoints)
        if latest > anchor["seq"] and (not rows or rows[-1]["chain_seq"] < latest):
            problems.append(f"the latest checkpoint vouches for {latest} rows; the export ends before that")
    summary = {"rows": len(rows), "redacted": redacted, "gaps": gaps, "checkpoints": len(checkpoints),
               "checkpoints_matched": covered, "signatures_checked": public is not None}  # fmt: skip
    return problems, summary


def main(argv=None) -> int:
    """Command line: print what holds or every problem; exit 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the audit log's JSON Lines export (.jsonl or .jsonl.gz)")
    parser.add_argument("checkpoints", help="the organization's checkpoints download (.json)")
    parser.add_argument("--public-key", help="the platform's key (PEM, from /audit/public-key); default: the "
                        "one in the checkpoints file — pin your own copy for a stronger check")  # fmt: skip
    parser.add_argument("--complete", action="store_true", help="require every row from the start to the latest "
                        "checkpoint")  # fmt: skip
    args = parser.parse_args(argv)
    with open(args.checkpoints, encoding="utf-8") as handle:
        bundle = json.load(handle)
    if args.public_key:
        with open(args.public_key, "rb") as handle:
            pem = handle.read()
    else:
        pem = bundle["public_key_pem"].encode() if bundle.get("public_key_pem") else None
    problems, summary = verify(args.export, bundle, pem, args.complete)
    for problem in problems:
        print(f"BROKEN {problem}")
    status = "ok" if not problems else "BROKEN"
    print(f"{status} chain {bundle['chain']}: {summary['rows']} rows ({summary['redacted']} redacted by erasure, "
          f"{summary['gaps']} gaps), {summary['checkpoints_matched']} of {summary['checkpoints']} checkpoints "
          f"matched, signatures {'checked' if summary['signatures_checked'] else 'NOT checked'}")  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
