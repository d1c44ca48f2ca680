"""The cleanup service: builds the Submitter from its master.cf row and provides it.

cleanup is in-process: there is no socket, smtpd, pickup, bounce and local call
IMailSubmitter.open_message() directly. The row's process limit (Postfix's ``0``) has
no meaning here.

Security: no input of its own; see writer.py for what submitters hand it. Reads
queue_directory and the parameters in params.py.
"""

import os

from twisted.application.service import Service

from pfx.cleanup.config import CleanupConfig
from pfx.cleanup.writer import Submitter
from pfx.interfaces import IMailSubmitter, IQueueManager
from pfx.queue.store import LAYOUT, QueueStore


class CleanupService(Service):
    """Offers the Submitter to the other services while it runs."""

    def __init__(self, submitter, context):
        self.submitter = submitter
        self.context = context

    def startService(self):
        # twistd may run without ``pfx start`` (which runs ``pfx check``) first
        incoming = self.submitter.store.queue_dir("incoming")
        if not os.path.isdir(incoming):
            os.makedirs(incoming, exist_ok=True)
            os.chmod(incoming, LAYOUT["incoming"])
        super().startService()
        self.context.provide(IMailSubmitter, self.submitter)


def make_kick(context):
    """qmgr's "I" trigger after each new file; no qmgr row yet means nobody to wake."""
    def kick():
        try:
            qmgr = context.require(IQueueManager)
        except LookupError:
            return
        qmgr.kick(b"I")
    return kick


def make_service(entry, context) -> CleanupService:
    config = CleanupConfig.from_settings(context.settings, getattr(context, "tables", None))
    log = context.logger("cleanup")
    runtime = context.runtime
    store = QueueStore(context.settings.get_str("queue_directory"), warn=log.warning,
                       clock=runtime.clock.seconds)
    return CleanupService(Submitter(config, store, runtime, log, make_kick(context)), context)
