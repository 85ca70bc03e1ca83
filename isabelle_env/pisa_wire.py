"""PISA's wire format: the tagged command strings of its one service, and its one-string protobuf messages
(field 1), encoded by hand so the client needs grpcio but no protobuf runtime and no generated stubs."""
from __future__ import annotations

import re

from isabelle_env.bridge import BridgeError

SERVICE = "server.Server"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # as PISA's own client: states of long proofs are large
APPLY = "<apply to top level state>"
CLONE = "<clone>"
DELETE = "<delete>"
LIST = "<list states>"
INITIALISE = "<initialise>"
PROOF_LEVEL = "<get_proof_level>"
IS_FINISHED = "<is finished>"
HAMMER_TAG = "<hammer>"
DEFAULT_STATE = "default"  # the state `<initialise>` creates: Isabelle's top level, before any theory

_ERROR_PREFIXES = ("Step error", "Unknown error", "Didn't find top level state", "error:")
_TIMEOUT_TEXT = re.compile(r"timed out|timeout", re.I)


# -- the wire format of PISA's one-string messages ----------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if at >= len(data):
            raise BridgeError("truncated protobuf message from PISA")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def encode_text(text: str) -> bytes:
    """A message whose only field, number 1, is the string `text` (proto3 omits an empty string)."""
    raw = text.encode("utf-8")
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def decode_text(data: bytes) -> str:
    """Field 1 of a message as a string; other fields are skipped, the last field 1 wins (proto3 rules)."""
    at, text = 0, ""
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, at = _read_varint(data, at)
        elif wire_type == 1:
            at += 8
        elif wire_type == 5:
            at += 4
        elif wire_type == 2:
            length, at = _read_varint(data, at)
            if number == 1:
                text = data[at:at + length].decode("utf-8", errors="replace")
            at += length
        else:
            raise BridgeError(f"unsupported protobuf wire type {wire_type} from PISA")
    if at > len(data):
        raise BridgeError("truncated protobuf message from PISA")
    return text


def classify_reply(reply: str) -> tuple[str | None, bool]:
    """(error text or None, whether the error is a timeout) for the reply to an apply command."""
    text = reply.strip()
    if not text.startswith(_ERROR_PREFIXES):
        return None, False
    return " ".join(text.split()), bool(_TIMEOUT_TEXT.search(text))
