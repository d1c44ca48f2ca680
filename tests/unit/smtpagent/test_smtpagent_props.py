"""Whatever a server answers (any codes, drops, silence, SMTP or LMTP), the agent gives exactly
one valid status per recipient, in order, and never fails its Deferred."""

from hypothesis import given, settings
from hypothesis import strategies as st
from smtpagent_fakes import FakeResolver, FakeServer, make_agent, request, result_of

ONE = FakeResolver(mx={"example.com": [(10, "mx1.example.com")]}, a={"mx1.example.com": ["192.0.2.1"]})
CODES = st.sampled_from(["250 2.0.0 ok", "251 ok", "421 4.4.2 bye", "450 4.2.0 busy",
                         "451 try later", "452 4.2.2 full", "550 5.1.1 no", "552 5.3.4 big",
                         "554 5.7.1 denied", "250-multi\r\n250 2.0.0 line"])
COMMANDS = ("MAIL", "DATA", "END", "RSET", "STARTTLS", "EHLO", "HELO", "AUTH")


@settings(max_examples=150, deadline=None)
@given(replies=st.dictionaries(st.sampled_from(COMMANDS), CODES),
       rcpt=st.lists(CODES, min_size=1, max_size=4),
       greeting=st.sampled_from(["220 mx ESMTP", "421 4.3.2 busy", "554 5.7.1 no"]),
       ehlo=st.lists(st.sampled_from(["PIPELINING", "8BITMIME", "SIZE 1", "SIZE 100000",
                                      "DSN", "STARTTLS", "SMTPUTF8", "AUTH PLAIN"]),
                     unique=True),
       drop=st.sets(st.sampled_from(("MAIL", "RCPT", "DATA", "EHLO", "RSET"))),
       silent=st.sets(st.sampled_from(("MAIL", "RCPT", "DATA", "QUIT"))),
       lmtp=st.booleans(), level=st.sampled_from(["none", "may", "encrypt"]),
       twice=st.booleans())
def test_one_valid_status_per_recipient(replies, rcpt, greeting, ehlo, drop, silent, lmtp,
                                        level, twice):
    rcpts = [f"r{i}@example.com" for i in range(len(rcpt))]
    replies = {**replies, **{f"RCPT:{a}": code for a, code in zip(rcpts, rcpt)}}
    if lmtp:
        replies.update({f"END:{a}": code for a, code in zip(rcpts, rcpt)})
    server = FakeServer(ehlo=ehlo, greeting=greeting, replies=replies, drop=drop, silent=silent)
    prefix = "lmtp" if lmtp else "smtp"
    agent, _, clock = make_agent({"192.0.2.1": server}, ONE, lmtp=lmtp,
                                 **{f"{prefix}_tls_security_level": level})
    nexthop = "inet:192.0.2.1" if lmtp else ""
    for _ in range(2 if twice else 1):  # the second delivery may reuse the connection
        d = agent.deliver(request(*rcpts, nexthop=nexthop))
        for _ in range(5):
            clock.advance(600)
        result = result_of(d)
        assert [s.recipient.address for s in result.statuses] == rcpts
        for s in result.statuses:
            assert s.action in ("sent", "deferred", "bounced") and s.text
    result_of(agent.stop())
