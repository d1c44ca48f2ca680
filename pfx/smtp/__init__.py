"""Sans-IO SMTP: the server and client protocol machines (no Twisted, no sockets).

Modules:
  server.py          ServerConnection: receive_data / next_event / send, start_tls
  server_commands.py its per-command rules; states.py the (phase, command) table
  config.py          ServerConfig: the smtpd parameters the machine enforces
  events.py          the frozen events, NEED_DATA and PAUSED
  commands.py        command-line and ESMTP parameter parsing, xtext
  dotstuff.py        DATA decoding (end of data, bare-LF policy) and dot-stuffing
  replies.py         Postfix's reply texts, named; ehlo.py the EHLO reply
  client.py          ClientConnection (SMTP and LMTP); replyparser.py server replies

Driving the server (the Twisted protocol in pfx.smtpd does exactly this):
  1. write(conn.send(greeting)).
  2. On data: conn.receive_data(data); then loop ev = conn.next_event():
     NEED_DATA or PAUSED -> stop; ev.needs_reply false (DataChunk, Bdat) -> hand it to
     the session and go on; otherwise get the session's Reply (maybe later, from a
     Deferred), write(conn.send(reply)), and loop again. Never call send() without an
     event to answer, except the greeting and an unsolicited 421 (timeout).
  3. Before writing send()'s bytes, wait conn.error_sleep seconds (smtpd_error_sleep_time
     once the soft error limit is reached). Replies may be held while conn.input_pending
     (RFC 2920 flush rule). Pause the transport while conn.should_pause.
  4. After writing 220 to StartTLS: conn.start_tls(), then transport.startTLS(). If
     start_tls() raises RemoteProtocolError, abort the connection without writing.
  5. When conn.closed after a write, close the transport. On connection loss,
     conn.receive_data(b"") (next_event then gives ConnectionClosed).
"""
