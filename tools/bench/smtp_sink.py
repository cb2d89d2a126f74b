"""The bench's mail server: accepts every message over SMTP and keeps none.

    python -m tools.bench.smtp_sink PORT

It stands for the mail provider, which in production runs on other machines. aiosmtpd's
full server spent about 1.4 ms of CPU per message on the bench's two cores, about as much
as the mail worker itself; this one answers the commands smtplib sends and skips the body,
so that the webhook figure measures the storefront's work rather than the sink's.
"""

from __future__ import annotations

import asyncio
import sys

_REPLIES = {
    b"EHLO": b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
    b"HELO": b"250 sink\r\n",
    b"MAIL": b"250 OK\r\n",
    b"RCPT": b"250 OK\r\n",
    b"RSET": b"250 OK\r\n",
    b"NOOP": b"250 OK\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 Bye\r\n",
}
_END_OF_DATA = b"\r\n.\r\n"


class SinkSession(asyncio.Protocol):
    """One client's connection: commands answered line by line, message bodies skipped."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(_END_OF_DATA)
                if end < 0:
                    self.buffer = self.buffer[-(len(_END_OF_DATA) - 1):]
                    return
                self.buffer = self.buffer[end + len(_END_OF_DATA):]
                self.in_data = False
                self.transport.write(b"250 OK: queued\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            verb = line[:4].upper()
            self.transport.write(_REPLIES.get(verb, b"500 Unknown command\r\n"))
            if verb == b"DATA":
                # The body starts right after its command's line end, which the end
                # marker's first CRLF may be (an empty body).
                self.buffer = b"\r\n" + self.buffer
                self.in_data = True
            elif verb == b"QUIT":
                self.transport.close()
                return


async def serve(port: int) -> None:
    """Listen on 127.0.0.1:port until killed."""
    server = await asyncio.get_running_loop().create_server(SinkSession, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
