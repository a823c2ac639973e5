#!/usr/bin/python3
"""Two libtorrent sessions on the loopback: one seeds a small file, the other fetches it
from that peer alone (no tracker, DHT, local discovery, uTP or encryption: plain
BitTorrent over TCP). Used by scripts/record-fixtures.sh (Debian's python3-libtorrent).

    sfxtorrent.py WORKDIR [SECONDS]
"""
import os
import sys
import time

import libtorrent as lt

work = sys.argv[1]
limit = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
seed_dir, leech_dir = os.path.join(work, "seed"), os.path.join(work, "leech")
os.makedirs(seed_dir, exist_ok=True)
os.makedirs(leech_dir, exist_ok=True)
with open(os.path.join(seed_dir, "hello.txt"), "wb") as f:
    f.write(b"hello from a seeder\n" * 2000)

fs = lt.file_storage()
lt.add_files(fs, os.path.join(seed_dir, "hello.txt"))
t = lt.create_torrent(fs, 16384)
lt.set_piece_hashes(t, seed_dir)
info = lt.torrent_info(t.generate())


def session(port):
    return lt.session({
        "listen_interfaces": "127.0.0.1:%d" % port, "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
        "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
        # Plain handshakes: protocol encryption (MSE) would hide them from tshark too.
        "out_enc_policy": 2, "in_enc_policy": 2,
    })


seeder, leecher = session(6881), session(6882)
a = seeder.add_torrent({"ti": info, "save_path": seed_dir})
b = leecher.add_torrent({"ti": lt.torrent_info(info), "save_path": leech_dir})
deadline = time.time() + limit
while not a.status().is_seeding and time.time() < deadline:
    time.sleep(0.1)
b.connect_peer(("127.0.0.1", 6881))
while not b.status().is_seeding and time.time() < deadline:
    time.sleep(0.1)
ok = b.status().is_seeding
del a, b, seeder, leecher
sys.exit(0 if ok else 1)
