"""check_policy_service: Postfix's policy delegation protocol (SMTPD_POLICY_README), the request side.

The restriction builds the ``name=value`` attributes, hands them to ``state.policy``
(``(spec, attrs) -> Deferred[action]``, made by service.py, which owns the sockets)
and applies the answer as an access(5) result. A policy server that cannot be reached,
times out or answers nonsense gives smtpd_policy_service_default_action instead.
"""

from twisted.internet import defer

from pfx.smtpd.access import access_result
from pfx.smtpd.checks import DUNNO, restriction


def request_attributes(state) -> dict:
    """The attributes Postfix sends for the current command (the ones pfx knows)."""
    return {
        "request": "smtpd_access_policy",
        "protocol_state": state.command,
        "protocol_name": "ESMTP" if state.esmtp else "SMTP",
        "helo_name": state.helo or "",
        "queue_id": "",
        "sender": state.sender or "",
        "recipient": state.recipient or "",
        "recipient_count": str(state.rcpt_count),
        "client_address": state.client_addr,
        "client_name": state.client_name,
        "reverse_client_name": state.client_name,
        "instance": state.instance,
        "sasl_method": state.sasl_method, "sasl_username": state.sasl_username, "sasl_sender": state.sasl_sender,
        "size": "0", "ccert_subject": "", "ccert_issuer": "", "ccert_fingerprint": "",
        "encryption_protocol": "", "encryption_cipher": "", "encryption_keysize": "0",
        "etrn_domain": "", "stress": "", "server_address": "", "server_port": "",
    }


def encode_request(attrs: dict) -> bytes:
    """``name=value`` lines and an empty line; newlines inside values would end the request."""
    lines = [f"{k}={str(v).replace(chr(10), ' ').replace(chr(13), ' ')}" for k, v in attrs.items()]
    return ("\n".join(lines) + "\n\n").encode("utf-8", "surrogateescape")


def parse_response(data: bytes) -> str:
    """The ``action=`` value of a response (lines up to an empty line); ValueError otherwise."""
    for line in data.decode("utf-8", "replace").split("\n"):
        if line.startswith("action="):
            return line[len("action="):].strip()
    raise ValueError("policy response has no action= attribute")


@restriction("check_policy_service", takes_arg=True)
@defer.inlineCallbacks
def check_policy_service(state, spec):
    default = state.config.policy_default_action
    if state.policy is None:
        action = default
    else:
        try:
            action = yield state.policy(spec, request_attributes(state))
        except Exception as e:
            state.notes.append(f"problem talking to policy server {spec}: {e}")
            action = default
    if not action:
        return DUNNO
    result = yield defer.maybeDeferred(access_result, state, action, state.stage)
    return result
