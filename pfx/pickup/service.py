"""The pickup service: the public/pickup trigger socket and the master.cf wakeup timer.

Security: the trigger socket is world-writable (mode 0666 in the 0710 public/
directory) and only ever wakes pickup up; what it reads from maildrop/ is checked in
scanner.py. Reads queue_directory, myhostname, mail_name and the row's wakeup column.
"""

import os

from twisted.application.service import MultiService
from twisted.internet import task

from pfx.pickup.scanner import Pickup
from pfx.queue.store import LAYOUT, QueueStore
from pfx.runtime.trigger import TriggerService


class PickupService(MultiService):
    """Wakes the Pickup on each trigger byte and every ``wakeup`` seconds (0: never)."""

    def __init__(self, pickup, store, reactor, clock, wakeup):
        super().__init__()
        self.pickup = pickup
        self.store = store
        self.clock = clock
        self.wakeup = wakeup
        self._timer = None
        path = os.path.join(store.queue_dir("public"), "pickup")
        TriggerService(reactor, path, lambda byte: pickup.wake()).setServiceParent(self)

    def _ensure_dirs(self):
        # twistd may run without ``pfx start`` (which runs ``pfx check``) first
        self.store.ensure_dirs(("public", "maildrop"))

    def privilegedStartService(self):
        self._ensure_dirs()
        super().privilegedStartService()

    def startService(self):
        self._ensure_dirs()
        super().startService()
        self.pickup.start()
        if self.wakeup > 0:
            self._timer = task.LoopingCall(self.pickup.wake)
            self._timer.clock = self.clock
            self._timer.start(self.wakeup, now=True)
        else:
            self.pickup.wake()

    def stopService(self):
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        d = super().stopService()
        return d.addBoth(lambda _: self.pickup.stop())


def make_service(entry, context) -> PickupService:
    settings, runtime = context.settings, context.runtime
    log = context.logger("pickup")
    store = QueueStore(settings.get_str("queue_directory"), warn=log.warning,
                       clock=runtime.clock.seconds)
    pickup = Pickup(store, context.require, runtime, log,
                    myhostname=settings.get_str("myhostname"),
                    mail_name=settings.get_str("mail_name"),
                    content_filter=settings.get_str("content_filter").strip())
    return PickupService(pickup, store, runtime.reactor, runtime.clock, entry.wakeup)
