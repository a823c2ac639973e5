"""A QUIC server and client from aioquic, for recording real QUIC handshakes.

    sfxaioquic.py serve HOST PORT CERT KEY --timeout S
    sfxaioquic.py connect HOST PORT --sni NAME --alpn h3 [--version 1|2] [--sport N] [--big]

The server accepts connections with ALPN h3 and does nothing else; the client
completes the handshake (its Initial packets carry the ClientHello with SNI and
ALPN), sends a PING and closes. Both are bounded by timeouts. Needs aioquic
(`pip install aioquic`).
"""

import argparse
import asyncio
import ssl
import sys

from aioquic.asyncio import connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion

VERSIONS = {"1": QuicProtocolVersion.VERSION_1, "2": QuicProtocolVersion.VERSION_2}


async def run_server(a):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    cfg.supported_versions = [QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2]
    cfg.load_cert_chain(a.cert, a.key)
    server = await serve(a.host, a.port, configuration=cfg)
    try:
        await asyncio.sleep(a.timeout)
    finally:
        server.close()


async def run_client(a):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=a.alpn.split(","), server_name=a.sni,
                            verify_mode=ssl.CERT_NONE)
    cfg.supported_versions = [VERSIONS[a.version]]
    # aioquic's "quantum readiness" extension makes the ClientHello larger than one
    # Initial packet, so its CRYPTO data spans two.
    cfg.quantum_readiness_test = a.big
    async with connect(a.host, a.port, configuration=cfg, local_port=a.sport) as client:
        await asyncio.wait_for(client.ping(), 5)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("cert")
    s.add_argument("key")
    s.add_argument("--timeout", type=float, default=60)
    c = sub.add_parser("connect")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--sni", required=True)
    c.add_argument("--alpn", default="h3")
    c.add_argument("--version", choices=sorted(VERSIONS), default="1")
    c.add_argument("--sport", type=int, default=0)
    c.add_argument("--big", action="store_true", help="a ClientHello spanning two Initial packets")
    a = p.parse_args()
    coro = run_server(a) if a.cmd == "serve" else run_client(a)
    asyncio.run(asyncio.wait_for(coro, a.timeout + 5 if a.cmd == "serve" else 15))


if __name__ == "__main__":
    sys.exit(main())
