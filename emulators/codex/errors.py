"""Every error text a client of the emulated Codex node can see, in one place: the REST API's
refusals (nim-codex ``rest/api.nim``), the node's and the repo store's errors that the API passes
on, and chronicles' answers to a bad log level; the fixed texts by the endpoint that answers them,
then those that carry a value. Each is the real node's text, byte for byte."""

from __future__ import annotations

from typing import Final

# --- POST /data -------------------------------------------------------------------------------
NO_BODY: Final = "Request do not have body available"
FILENAME_UNREADABLE: Final = "The filename could not be read."
INVALID_FILENAME: Final = "The filename is not valid."
EMPTY_LEAVES: Final = "Empty leaves"  # an upload of no bytes at all

# --- /data/{cid} ------------------------------------------------------------------------------
INCORRECT_CID: Final = "Incorrect Cid"
INVALID_MANIFEST_CID: Final = "CID has invalid content type for manifest {$cid}"
BLOCK_NOT_FOUND: Final = "Block not found in local store"
RETRIES_EXHAUSTED: Final = "Error retries exhausted"
DELETE_IN_DATASET: Final = "Directly deleting a block that is part of a dataset is not allowed."

# --- GET /connect/{peerId} --------------------------------------------------------------------
INCORRECT_PEER_ID: Final = "peerid: incorrect PeerId string"
DIAL_FAILED: Final = "Unable to dial peer"
DIAL_UNKNOWN_ERROR: Final = "Unknown error dialling peer"
PEER_NOT_FOUND: Final = "Unable to find Peer!"

# --- POST /debug/chronicles/loglevel ----------------------------------------------------------
MISSING_LOG_LEVEL: Final = "Missing log level"
LEVEL_ERROR: Final = "Please specify one of: trace, debug, info, notice, warn, error or fatal"
DIRECTIVE_ERROR: Final = "Please use the following syntax 'DEBUG: topic1,topic2; INFO: topic3'."

# --- the marketplace routes of a node started without ``persistence`` -------------------------
PERSISTENCE_DISABLED: Final = "Persistence is not enabled"


def invalid_mime_type(raw: bytes) -> bytes:
    """An upload's unknown ``Content-Type``, echoed in the header's own bytes."""
    return b"The MIME type '" + raw + b"' is not valid."


def unable_to_store_block(cid: str) -> str:
    return f"Unable to store block {cid}"


def quota_exceeded(used: int, limit: int) -> str:
    """nim-codex's ``QuotaNotEnoughError`` (``$NBytes`` renders as ``<n>'NByte``)."""
    return (f"Quota usage would exceed the limit. Used: {used}'NByte, reserved: 0'NByte, "
            f"limit: {limit}'NByte")


def not_retrieved(reason: str) -> str:
    """A local download of a CID whose block is not here."""
    return f"The requested CID could not be retrieved ({reason})."


def unrecognized_level(level: str) -> str:
    return f"'{level}' is not a recognized log level."
