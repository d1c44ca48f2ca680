"""Hypothesis: whatever a server sends, the client machine gives Responses or a clean protocol error."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pfx.smtp.client import ClientConnection, Response, ServerClosed
from pfx.smtp.errors import RemoteProtocolError
from pfx.smtp.events import NEED_DATA

LINES = [b"220 hi\r\n", b"250-x\r\n", b"250 ok\r\n", b"250 2.1.5 ok\r\n", b"354 go\r\n", b"550 5.1.1 no\r\n",
         b"421 bye\r\n", b"\r\n", b"\n", b"999 x\r\n", b"2", b"-", b" "]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.one_of(st.sampled_from(LINES), st.binary(max_size=30)), max_size=30).map(b"".join),
       st.integers(min_value=1, max_value=7), st.booleans())
def test_server_bytes_give_responses_or_protocol_error(data, step, lmtp):
    c = ClientConnection(lmtp=lmtp, line_limit=64)
    queued = [lambda: c.ehlo("me"), lambda: c.mail("a@b"), lambda: c.rcpt("c@d"), c.data]
    try:
        for i in range(0, len(data), step):
            c.receive_data(data[i:i + step])
            while (ev := c.next_event()) is not NEED_DATA:
                assert isinstance(ev, (Response, ServerClosed))
                if queued and not c.waiting and not c.closed:
                    queued.pop(0)()  # lockstep, like a client without PIPELINING
            assert len(c._parser._buf) <= 64 + step
        c.receive_data(b"")
        assert isinstance(c.next_event(), (ServerClosed, Response))
    except RemoteProtocolError:
        pass
