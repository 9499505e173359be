"""Lists the Ice messages of a capture from the bytes, to check tshark (and sister) against.

Run: python3 dump.py CAPTURE.pcap   (needs tshark, for the TCP payloads; any python3)

tshark 4.0's icep dissector has no field for a reply's status and does not decompress bzip2 bodies
(it reads a compressed body as if it were plain, so its fields there are garbage). This script joins
each TCP direction's payload (enough for these loopback captures: no loss, no reordering), cuts it
into Ice messages by the header's size, decompresses status-2 bodies and prints, per message: the
frame where it starts, the sender's port, type, compression status, size and, for a reply, the
request id and status.
"""
import bz2
import struct
import subprocess
import sys

TYPES = {0: "Request", 1: "BatchRequest", 2: "Reply", 3: "ValidateConnection", 4: "CloseConnection"}
STATUS = ["Ok", "UserException", "ObjectNotExist", "FacetNotExist", "OperationNotExist",
          "UnknownLocalException", "UnknownUserException", "UnknownException"]

fields = ["-e", "frame.number", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.payload"]
out = subprocess.run(["tshark", "-r", sys.argv[1], "-T", "fields", *fields],
                     capture_output=True, text=True, check=True).stdout
pending = {}  # (stream, port) -> [first frame of the unfinished bytes, bytes]
for line in out.splitlines():
    frame, stream, port, payload = (line.split("\t") + [""] * 4)[:4]
    if not payload:
        continue
    key = (stream, port)
    buf = pending.setdefault(key, [frame, b""])
    if not buf[1]:
        buf[0] = frame
    buf[1] += bytes.fromhex(payload.replace(":", ""))
    while len(buf[1]) >= 14:
        b = buf[1]
        size = struct.unpack("<i", b[10:14])[0]
        if b[:4] != b"IceP" or size < 14:
            sys.exit(f"frame {frame}: not an Ice message: {b[:14].hex()}")
        if len(b) < size:
            break
        msg_type, compression, body = b[8], b[9], b[14:size]
        text = f"frame {buf[0]:>3} port {port:>5} {TYPES.get(msg_type, msg_type)} compression={compression} size={size}"
        if compression == 2:
            total = struct.unpack("<i", body[:4])[0]
            body = bz2.decompress(body[4:])
            text += f" (uncompressed {total})"
        if msg_type == 0:
            text += f" id={struct.unpack('<i', body[:4])[0]}"
        if msg_type == 1:
            text += f" requests={struct.unpack('<i', body[:4])[0]}"
        if msg_type == 2:
            status = body[4]
            text += f" id={struct.unpack('<i', body[:4])[0]} status={status} {STATUS[status] if status < 8 else '?'}"
        print(text)
        buf[1] = b[size:]
        buf[0] = frame
