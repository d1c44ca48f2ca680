"""``twistd pfx -c DIR``: the IServiceMaker; pfx.app is imported only when it runs."""

from twisted.application.service import ServiceMaker

pfx = ServiceMaker("pfx", "pfx.app", "pfx mail transfer agent (master.cf services)", "pfx")
