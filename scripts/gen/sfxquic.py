"""A client QUIC v1 Initial packet (RFC 9000 17.2.2, RFC 9001 5).

The packet is built the way a real client builds it: a TLS 1.3 ClientHello
(with SNI, ALPN "h3" and quic_transport_parameters) in a CRYPTO frame,
padded so the UDP payload is 1200 bytes, AEAD-protected with the Initial keys
derived from the Destination Connection ID, and header-protected. Wireshark
derives the same keys, so it can decrypt the packet and show the SNI.

The crypto needs the `cryptography` package (Debian: python3-cryptography).
Without it the header is still a valid v1 Initial long header but the
payload is random bytes (tshark then reports the decryption as failed).
The self-test reproduces the key schedule of RFC 9001 Appendix A.
"""

import hashlib
import hmac
import os
import struct

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    HAVE_CRYPTO = True
except ImportError:  # pragma: no cover - depends on the host
    HAVE_CRYPTO = False

INITIAL_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
# RFC 9001 Appendix A uses this Destination Connection ID.
RFC_DCID = bytes.fromhex("8394c8f03e515708")


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand_label(secret, label, length):
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def client_initial_keys(dcid):
    initial = hkdf_extract(INITIAL_SALT_V1, dcid)
    client = hkdf_expand_label(initial, b"client in", 32)
    return (hkdf_expand_label(client, b"quic key", 16),
            hkdf_expand_label(client, b"quic iv", 12),
            hkdf_expand_label(client, b"quic hp", 16))


def varint(v):
    if v < 0x40:
        return struct.pack("!B", v)
    if v < 0x4000:
        return struct.pack("!H", 0x4000 | v)
    if v < 0x40000000:
        return struct.pack("!I", 0x80000000 | v)
    return struct.pack("!Q", 0xC000000000000000 | v)


def ext(etype, body):
    return struct.pack("!HH", etype, len(body)) + body


def client_hello(sni, scid):
    rnd = os.urandom(32)
    host = sni.encode()
    server_name = struct.pack("!HBH", len(host) + 3, 0, len(host)) + host
    params = b"".join(varint(i) + varint(len(v)) + v for i, v in [
        (0x01, varint(30000)),        # max_idle_timeout
        (0x04, varint(1048576)),      # initial_max_data
        (0x05, varint(262144)),       # initial_max_stream_data_bidi_local
        (0x06, varint(262144)),       # initial_max_stream_data_bidi_remote
        (0x08, varint(100)),          # initial_max_streams_bidi
        (0x0F, scid),                 # initial_source_connection_id
    ])
    exts = b"".join([
        ext(0x0000, server_name),
        ext(0x000A, struct.pack("!HH", 2, 0x001D)),                      # groups: x25519
        ext(0x000D, struct.pack("!H4H", 8, 0x0403, 0x0804, 0x0401, 0x0503)),
        ext(0x0010, struct.pack("!HB", 3, 2) + b"h3"),                  # ALPN
        ext(0x002B, struct.pack("!BH", 2, 0x0304)),                     # TLS 1.3
        ext(0x002D, struct.pack("!BB", 1, 1)),                          # psk_dhe_ke
        ext(0x0033, struct.pack("!HHH", 36, 0x001D, 32) + os.urandom(32)),
        ext(0x0039, params),                                            # QUIC TPs
    ])
    body = (struct.pack("!H", 0x0303) + rnd + b"\x00"                  # empty session id
            + struct.pack("!H3H", 6, 0x1301, 0x1302, 0x1303)
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    return b"\x01" + struct.pack("!I", len(body))[1:] + body


def initial_packet(sni="sniff.example.test", dcid=RFC_DCID, scid=None, pn=0, size=1200):
    scid = scid if scid is not None else bytes.fromhex("5a1ff1c5")
    ch = client_hello(sni, scid)
    crypto = b"\x06" + varint(0) + varint(len(ch)) + ch
    pn_len = 4
    tag_len = 16
    first = 0xC0 | (pn_len - 1)  # long header, fixed bit, type Initial (0)

    def header(payload_len):
        return (bytes([first]) + struct.pack("!I", 1)
                + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
                + varint(0)                                   # token length
                + struct.pack("!H", 0x4000 | (pn_len + payload_len + tag_len))
                + struct.pack("!I", pn))

    pad = size - len(header(0)) - len(crypto) - tag_len
    plain = crypto + b"\x00" * max(pad, 0)                   # PADDING frames
    hdr = bytearray(header(len(plain)))
    pn_off = len(hdr) - pn_len
    if not HAVE_CRYPTO:
        return bytes(hdr) + os.urandom(len(plain) + tag_len)
    key, iv, hp = client_initial_keys(dcid)
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, plain, bytes(hdr))
    sample = sealed[4 - pn_len:4 - pn_len + 16]
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    hdr[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        hdr[pn_off + i] ^= mask[1 + i]
    return bytes(hdr) + sealed


def self_test():
    key, iv, hp = client_initial_keys(RFC_DCID)
    assert key.hex() == "1f369613dd76d5467730efcbe3b1a22d", key.hex()
    assert iv.hex() == "fa044b2f42a3fd3b46fb255c", iv.hex()
    assert hp.hex() == "9f50449e04a0e810283a1e9933adedd2", hp.hex()
    assert len(initial_packet()) == 1200


if __name__ == "__main__":
    self_test()
    print("sfxquic self-test ok (crypto: %s)" % HAVE_CRYPTO)
