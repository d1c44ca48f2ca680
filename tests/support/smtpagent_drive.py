"""Drive pfx's smtp/lmtp agent in a process of its own: JSON jobs on stdin, one JSON result line each.

    {"jobs": [{"lmtp": false, "main": {"pfx_dns_servers": "127.0.0.1:5353", ...},
               "nexthop": "example.test", "sender": "s@x", "recipients": ["a@example.test"],
               "body": "Subject: x\\n\\nhi\\n", "smtputf8": false, "body_type": ""}]}

Each job gets fresh Settings (main.cf values from "main"), the resolver pfx.app would
build (pfx.runtime.dns.make_resolver, so pfx_dns_servers is exercised for real) and the
table registry; the result line lists [action, dsn, text, relay] per recipient (with
"repeat": N, a list of N such lists: N deliveries by one agent).
"""

import io
import json
import sys

from twisted.internet import defer, task


async def run_job(reactor, job):
    from pfx.config.settings import Setting, Settings
    from pfx.discover import discover
    from pfx.envelope import DeliveryRequest, Recipient
    from pfx.runtime.build import make_runtime
    from pfx.runtime.dns import make_resolver
    from pfx.runtime.logging import MailLog
    from pfx.tables.registry import Registry

    installed = discover()
    main = {"myhostname": "client.pfx.test", **job.get("main", {})}
    settings = Settings(installed.registry(), {k: Setting(str(v)) for k, v in main.items()},
                        "/nonexistent")
    command = "lmtp" if job.get("lmtp") else "smtp"
    settings = settings.for_service(command)
    runtime = make_runtime(reactor, MailLog("pfx", command), resolver=make_resolver(settings, reactor),
                           tables=Registry(installed.tables))
    agent = installed.agents[command].make_agent(settings, runtime)
    body = job.get("body", "Subject: test\n\nhello\n").encode("utf-8")
    request = DeliveryRequest(
        queue_id="4AB12C", queue_name="active", sender=job.get("sender", "sender@client.pfx.test"),
        recipients=[Recipient(a) for a in job["recipients"]], transport=command,
        nexthop=job.get("nexthop", ""), size=len(body), arrival=0.0,
        smtputf8=job.get("smtputf8", False), body_type=job.get("body_type", ""),
        open_content=lambda: io.BytesIO(body))
    results = []
    for _ in range(job.get("repeat", 1)):  # one agent: the later deliveries may reuse
        result = await agent.deliver(request)
        results.append([[s.action, str(s.dsn), s.text, s.relay] for s in result.statuses])
    await agent.stop()
    return results if "repeat" in job else results[0]


async def main(reactor):
    jobs = json.load(sys.stdin)["jobs"]
    for job in jobs:
        try:
            out = await run_job(reactor, job)
        except Exception as e:  # report, do not hang the test
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
