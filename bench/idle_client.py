#!/usr/bin/env python3
"""Opens N keep-alive connections, makes one request on each, then holds
them idle: the client side of bench/idle-connections.sh.

    idle_client.py HOST PORT MODE N PATH

MODE: `get` (HTTP/1.1 GET PATH), `post` (HTTP/1.1 POST PATH with a 5-byte
body first: on Gatehouse, a connection hyper serves), `h2c` (HTTP/2 with
prior knowledge, one GET PATH). Once every connection has its whole
answer, prints `ready OK FAILED` and holds them all until stdin closes,
then resets them (no TIME_WAIT left behind). Exits 1 when any failed.
"""

import asyncio
import resource
import socket
import struct
import sys

# Connections being opened at once: below both servers' listen backlog.
OPENING = 200


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"error: {needed} connections need {needed} file descriptors; "
                     f"the hard limit is {hard} (raise it, or lower N)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def read_h1_response(reader):
    """Reads one HTTP/1.1 response with a Content-Length body; whether the
    server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1]
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            keep = False
        elif name == "transfer-encoding":
            raise ValueError("a chunked answer; the bench expects a length")
    await reader.readexactly(length)
    if not keep:
        raise ValueError(f"status {status}, and the server closes the connection")
    return status


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(index, value):
    """A header field without indexing, its name from the static table."""
    value = value.encode()
    assert index < 15 and len(value) < 127
    return bytes([index, len(value)]) + value


async def h2c_get(reader, writer, host, path):
    block = (b"\x82\x86"  # :method GET, :scheme http
             + hpack_literal(4, path) + hpack_literal(1, host))
    writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0)
                 + h2_frame(1, 0x5, 1, block))  # END_STREAM | END_HEADERS
    status = None
    while True:
        header = await reader.readexactly(9)
        length = int.from_bytes(header[:3], "big")
        kind, flags = header[3], header[4]
        stream = int.from_bytes(header[5:9], "big") & 0x7FFFFFFF
        payload = await reader.readexactly(length)
        if kind == 4 and not flags & 1:  # SETTINGS: acknowledge
            writer.write(h2_frame(4, 1, 0))
        elif kind == 7:  # GOAWAY
            last, code = struct.unpack(">II", payload[:8])
            raise ValueError(f"the server said GOAWAY (last stream {last & 0x7FFFFFFF}, "
                             f"error {code}, {payload[8:]!r})")
        elif stream == 1 and kind == 1:
            # 0x88 is `:status 200` from the static table.
            status = "200" if payload[:1] == b"\x88" else "not 200"
        if stream == 1 and kind in (0, 1) and flags & 1:
            return status


async def one(host, port, mode, path, opening, held):
    async with opening:
        reader, writer = await asyncio.open_connection(host, port)
        if mode == "h2c":
            status = await h2c_get(reader, writer, host, path)
        else:
            if mode == "get":
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            else:
                writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                             "Content-Length: 5\r\n\r\nhello".encode())
            status = await read_h1_response(reader)
    held.append(writer)
    return status


async def main():
    host, port, mode, count, path = sys.argv[1:6]
    count = int(count)
    if mode not in ("get", "post", "h2c"):
        sys.exit(f"error: mode {mode!r}: one of get, post, h2c")
    raise_fd_limit(count + 64)
    opening = asyncio.Semaphore(OPENING)
    held = []
    results = await asyncio.gather(
        *(one(host, port, mode, path, opening, held) for _ in range(count)),
        return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    # A POST to a static file is answered 405: what matters is that the
    # connection was served and stays open.
    wrong = [r for r in results if mode != "post" and isinstance(r, str) and r != "200"]
    for err in (failed + wrong)[:3]:
        print(f"idle_client: {mode}: {err!r}", file=sys.stderr)
    print(f"ready {count - len(failed) - len(wrong)} {len(failed) + len(wrong)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for writer in held:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
    return 1 if failed or wrong else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
