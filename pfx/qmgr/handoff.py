"""qmgr's blocking calls, gathered while its pump runs and handed to a thread as one job."""

# One pass of the pump can start several deliveries whose agents answer at once
# (discard, error), read a batch into the active queue and continue a scan: each
# wants a blocking call (mark_done, a removal, a read). A thread round trip costs
# more CPU than most of these calls, so calls asked for while the pump runs are held
# and released together when it ends: one job, run in the order asked, each call's
# result or exception going to its own Deferred. Nothing is reordered against
# anything it depends on: a call that needs another's result is asked for only when
# that result has arrived. Outside the pump a call goes to the thread at once.

from twisted.internet import defer
from twisted.python.failure import Failure


class HeldCalls:
    """run_blocking(f, *args) -> Deferred, holding calls while ``holding()`` is true.

    ``step(f, *args)`` runs f as one step of the caller's loop (qmgr's _batch: calls
    are held during it and released after it), so that the results of one job are
    handed out together, and whatever they lead to goes out as the next job.
    """

    def __init__(self, run_blocking, holding, step):
        self._run = run_blocking
        self._holding = holding
        self._step = step
        self._held = []

    def __call__(self, f, *args, **kwargs):
        if not self._holding():
            return self._run(f, *args, **kwargs)
        d = defer.Deferred()
        self._held.append((d, f, args, kwargs))
        return d

    def release(self):
        """Hand the held calls to the thread pool: one job for all of them."""
        if not self._held:
            return
        held, self._held = self._held, []
        if len(held) == 1:
            _, f, args, kwargs = held[0]
            job = self._run(f, *args, **kwargs)
            job.addCallback(lambda value: [(value, None)])
        else:
            job = self._run(each, _call, [(f, args, kwargs) for _, f, args, kwargs in held])
        job.addCallbacks(self._hand_out, self._fail_all, callbackArgs=(held,),
                         errbackArgs=(held,))

    def _hand_out(self, results, held):
        self._step(_fire, results, held)

    def _fail_all(self, failure, held):
        self._hand_out([(None, failure.value)] * len(held), held)


def _fire(results, held):
    for (d, *_), (value, error) in zip(held, results):
        if error is None:
            d.callback(value)
        else:
            d.errback(Failure(error))


def each(f, items):
    """Blocking: [(f(*item), None) or (None, the exception)] for each item, in order."""
    results = []
    for item in items:
        try:
            results.append((f(*item), None))
        except Exception as exc:
            results.append((None, exc))
    return results


def _call(f, args, kwargs):
    return f(*args, **kwargs)
