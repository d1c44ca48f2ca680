"""Build the one Runtime that every service and agent receives (called by pfx.app)."""

from pfx.plugin import Runtime
from pfx.runtime.blocking import BlockingPool


def make_runtime(reactor, log, resolver=None, tables=None, require=None,
                 agent_for=None) -> Runtime:
    """Blocking file work (fsync, mailbox writes) runs in worker threads (blocking.py),
    as many as the reactor's own thread pool would have at most."""
    pool = BlockingPool(reactor, size=10)
    return Runtime(reactor=reactor, clock=reactor, resolver=resolver,
                   run_blocking=pool.run, log=log, tables=tables, require=require,
                   agent_for=agent_for)


def inline_runtime(clock, log=None, reactor=None, resolver=None, tables=None,
                   require=None, agent_for=None) -> Runtime:
    """A Runtime for tests: run_blocking runs at once and returns a fired Deferred."""
    from twisted.internet.defer import maybeDeferred

    def run_blocking(f, *args, **kwargs):
        return maybeDeferred(f, *args, **kwargs)

    return Runtime(reactor=reactor if reactor is not None else clock, clock=clock,
                   resolver=resolver, run_blocking=run_blocking, log=log, tables=tables,
                   require=require, agent_for=agent_for)
