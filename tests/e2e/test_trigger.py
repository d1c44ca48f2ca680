"""Trigger sockets over a real unix socket: send_trigger bytes reach the service callback."""

import os

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from pfx.cli.trigger import send_trigger
from pfx.runtime.trigger import TriggerService


class TriggerTests(TestCase):
    # a real unix socket needs the real reactor: trial runs it for this one test class
    def test_bytes_reach_the_callback_and_stale_socket_is_replaced(self):
        base = self.mktemp()
        os.makedirs(os.path.join(base, "public"))
        path = os.path.join(base, "public", "qmgr")
        open(path, "w").close()  # a stale file from a crash
        got, done = [], Deferred()

        def callback(byte):
            got.append(byte)
            if len(got) == 3:
                done.callback(None)

        service = TriggerService(reactor, path, callback)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        self.assertFalse(send_trigger(base, "pickup", b"W"))
        sent = reactor.callInThread  # the client blocks: run it off the reactor thread
        sent(send_trigger, base, "qmgr", b"IDA")
        return done.addCallback(lambda _: self.assertEqual(got, [b"I", b"D", b"A"]))
