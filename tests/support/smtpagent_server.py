"""A scriptable ESMTP server for the smtp agent's end-to-end tests (asyncio, in a thread).

Recipients decide the answer: ``reject*`` gets 550 5.1.1, ``defer*`` 451 4.3.0, anything
else 250. Optional STARTTLS (cert and key files), AUTH PLAIN/LOGIN for one user, SIZE
and a custom greeting. Received messages are kept in ``messages`` as
(mail_from_line, [rcpts], data, tls, auth_user).
"""

import asyncio
import base64
import ssl
import threading


class ScriptedSmtpServer:
    def __init__(self, host="127.0.0.1", port=0, certfile=None, keyfile=None, auth=None,
                 greeting="220 sink.pfx.test ESMTP test", size=None, extensions=()):
        self.host, self.port = host, port
        self.certfile, self.keyfile = certfile, keyfile
        self.auth = auth  # (user, password)
        self.greeting, self.size, self.extensions = greeting, size, tuple(extensions)
        self.messages, self.sessions = [], 0
        self._loop = None
        self._server = None

    def start(self):
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._session, self.host, self.port))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    async def _session(self, reader, writer):
        self.sessions += 1
        tls, user, mail, rcpts = False, None, None, []

        async def send(text):
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        await send(self.greeting)
        if not self.greeting.startswith("2"):
            writer.close()
            return
        try:
            while True:
                line = (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    break
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    ext = ["sink.pfx.test", "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
                    if self.size:
                        ext.append(f"SIZE {self.size}")
                    if self.certfile and not tls:
                        ext.append("STARTTLS")
                    if self.auth:
                        ext.append("AUTH PLAIN LOGIN")
                    ext += self.extensions
                    await send("\r\n".join(f"250{'-' if i < len(ext) - 1 else ' '}{e}"
                                           for i, e in enumerate(ext)))
                elif verb == "HELO":
                    await send("250 sink.pfx.test")
                elif verb == "STARTTLS" and self.certfile:
                    await send("220 2.0.0 Ready to start TLS")
                    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                    ctx.load_cert_chain(self.certfile, self.keyfile)
                    await writer.start_tls(ctx)
                    tls = True
                elif verb == "AUTH" and self.auth:
                    user = await self._auth(line, reader, send)
                    if user is None:
                        await send("535 5.7.8 Error: authentication failed")
                    else:
                        await send("235 2.7.0 Authentication successful")
                elif verb == "MAIL":
                    mail, rcpts = line, []
                    await send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    addr = line[line.find("<") + 1:line.find(">")]
                    if addr.startswith("reject"):
                        await send(f"550 5.1.1 <{addr}>: Recipient address rejected: no such user")
                    elif addr.startswith("defer"):
                        await send(f"451 4.3.0 <{addr}>: Temporary lookup failure")
                    else:
                        rcpts.append(addr)
                        await send("250 2.1.5 Ok")
                elif verb == "DATA":
                    if not rcpts:
                        await send("554 5.5.1 Error: no valid recipients")
                        continue
                    await send("354 End data with <CR><LF>.<CR><LF>")
                    data = bytearray()
                    while True:
                        chunk = await reader.readline()
                        if chunk in (b".\r\n", b""):
                            break
                        data += chunk
                    self.messages.append((mail, rcpts, bytes(data), tls, user))
                    await send("250 2.0.0 Ok: queued as 7B2F1C")
                elif verb in ("RSET", "NOOP"):
                    mail, rcpts = None, []
                    await send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    await send("221 2.0.0 Bye")
                    break
                else:
                    await send("502 5.5.2 Error: command not recognized")
        finally:
            writer.close()

    async def _auth(self, line, reader, send):
        words = line.split()
        mech = words[1].upper() if len(words) > 1 else ""
        if mech == "PLAIN":
            blob = words[2] if len(words) > 2 else None
            if blob is None:
                await send("334 ")
                blob = (await reader.readline()).decode().strip()
            parts = base64.b64decode(blob).split(b"\0")
            user, pw = parts[1].decode(), parts[2].decode()
        elif mech == "LOGIN":
            await send("334 VXNlcm5hbWU6")
            user = base64.b64decode((await reader.readline()).strip()).decode()
            await send("334 UGFzc3dvcmQ6")
            pw = base64.b64decode((await reader.readline()).strip()).decode()
        else:
            return None
        return user if (user, pw) == tuple(self.auth) else None
