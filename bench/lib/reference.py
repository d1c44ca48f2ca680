"""Postfix as the reference: start a private instance in one of three set-ups and measure it.

Scenarios (the same names pfx's benches use, so figures can be printed side by side):

=========  ===================================================================================
accept     Postfix mode "discard": smtpd -> cleanup -> queue -> qmgr -> discard(8)
relay      mode "relay": ... -> smtp(8) -> smtp-sink on loopback (smtp-sink's CPU not counted)
maildir    mode "maildir": ... -> virtual(8) into 100 Maildirs (smtp-source -N recipients
           spread over u00..u99 by a regexp virtual alias)
=========  ===================================================================================

Every run ends when the queue is empty (and, for maildir, every message is in a Maildir), so
the CPU figure includes delivery. Before measuring, a warm-up batch is sent and drained, so
the figures do not include process start-up.
"""

from tests.support.peers.postfix import Postfix, SmtpSink

from .measure import measure

SCENARIOS = ("accept", "relay", "maildir")
MAILDIR_USERS = 100


def run_reference(scenario, *, messages=5000, sessions=20, size=5120, recipients=1,
                  reuse=False, warmup=200, drain_timeout=600.0):
    """Start Postfix for ``scenario``, warm it up, measure, stop everything; return a Result."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}")
    sink = None
    pf = None
    try:
        if scenario == "relay":
            sink = SmtpSink(None, backlog=256).start()
            pf = Postfix("relay", relay_to=sink.address)
        elif scenario == "maildir":
            pf = Postfix("maildir", maildir_users=MAILDIR_USERS)
        else:
            pf = Postfix("discard")
        pf.start()
        options = dict(sessions=sessions, size=size, recipients=recipients, reuse=reuse)
        if scenario == "maildir":
            options.update(sequence=True, to="u@example.test")

        def run(count, name):
            base = pf.maildir_count() if scenario == "maildir" else 0
            expect = base + count * recipients

            def drained():
                if pf.queue_count():
                    return False
                return scenario != "maildir" or pf.maildir_count() >= expect

            return measure(name, "postfix", pf.port, pf.master_pid, messages=count,
                           drained=drained, drain_timeout=drain_timeout, **options)

        if warmup:
            run(warmup, "warmup")
        return run(messages, scenario)
    finally:
        if pf is not None:
            pf.stop()
        if sink is not None:
            sink.stop()
