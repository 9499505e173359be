"""MQTT over WebSockets by hand, byte for byte (RFC 6455 frames written here, not by a library), to
see what a broker does with what paho never sends: packets cut across frames and continuation
frames, several packets in one frame, a ping between fragments, a close, an unmasked frame, a plain
HTTP GET. Run by tests/mqtt_ws.rs against sister's broker and Mosquitto alike.

    python3 mqtt_ws_raw.py fragments PORT    # prints what came back, one line per event
    python3 mqtt_ws_raw.py unmasked PORT
    python3 mqtt_ws_raw.py http PORT
"""
import base64, hashlib, os, socket, struct, sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n" % (port, key))
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            sys.exit("closed during the handshake")
        head += d
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"Sec-WebSocket-Accept: " + accept in head, head
    return s


def frame(opcode, payload, fin=True, mask=True):
    """A client frame (RFC 6455 §5.2), masked unless told otherwise."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Reader:
    """Server frames (unmasked) out of the socket."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self.need(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self.need(8))
        assert not b1 & 0x80, "a masked frame from the server (RFC 6455 §5.1)"
        return b0 & 0x0F, self.need(n)


def remaining_length(n):
    out = b""
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def string(t):
    return struct.pack("!H", len(t)) + t


def packet(first, body):
    return bytes([first]) + remaining_length(len(body)) + body


def mqtt_packets(data):
    """(type, body) of each whole MQTT packet in data, and what is left."""
    out = []
    while len(data) >= 2:
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(data):
                return out, data
            b = data[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(data) < i + n:
            break
        out.append((data[0] >> 4, data[i:i + n]))
        data = data[i + n:]
    return out, data


def fragments(port):
    s = handshake(port)
    r = Reader(s)
    connect = packet(0x10, string(b"MQTT") + bytes([4, 2, 0, 60]) + string(b"ws-raw-fragments"))
    # CONNECT cut in two frames, a ping between them (RFC 6455 §5.4: control frames may come between
    # fragments).
    s.sendall(frame(0x2, connect[:5], fin=False) + frame(0x9, b"hi") + frame(0x0, connect[5:]))
    subscribe = packet(0x82, struct.pack("!H", 1) + string(b"raw/#") + bytes([0]))
    big = os.urandom(100_000)
    publish_big = packet(0x30, string(b"raw/big") + big)
    publish_small = packet(0x30, string(b"raw/small") + b"two packets in one frame")
    stream = b""
    events = []
    while True:
        op, payload = r.frame()
        if op == 0xA:
            events.append("pong %r" % payload)
        elif op == 0x2:
            stream += payload
            packets, stream = mqtt_packets(stream)
            for t, body in packets:
                if t == 2:
                    events.append("CONNACK rc=%d" % body[1])
                    # SUBSCRIBE and the small PUBLISH in one frame (MQTT 5.0 §6: a frame may hold
                    # several packets), then the large PUBLISH cut across three frames.
                    s.sendall(frame(0x2, subscribe))
                elif t == 9:
                    events.append("SUBACK %d" % body[2])
                    s.sendall(frame(0x2, publish_small + publish_big[:10], fin=False)
                              + frame(0x0, publish_big[10:60_000], fin=False)
                              + frame(0x0, publish_big[60_000:]))
                elif t == 3:
                    (tl,) = struct.unpack("!H", body[:2])
                    topic, data = body[2:2 + tl].decode(), body[2 + tl:]
                    events.append("PUBLISH %s %d bytes%s" % (topic, len(data), " (intact)" if data == big else ""))
                    if topic == "raw/big":
                        s.sendall(frame(0x8, struct.pack("!H", 1000) + b"bye"))
        elif op == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            events.append("close %s" % code)
            break
        else:
            events.append("opcode %d" % op)
    try:
        rest = s.recv(100)
        events.append("eof" if not rest else "more bytes %r" % rest)
    except (ConnectionResetError, socket.timeout) as e:
        events.append("eof (%s)" % type(e).__name__)
    print("\n".join(events))


def unmasked(port):
    s = handshake(port)
    r = Reader(s)
    connect = packet(0x10, string(b"MQTT") + bytes([4, 2, 0, 60]) + string(b"ws-raw-unmasked"))
    s.sendall(frame(0x2, connect, mask=False))
    try:
        while True:
            op, payload = r.frame()
            if op == 0x8:
                print("close %d" % struct.unpack("!H", payload[:2]))
            elif op == 0x2:
                print("binary %s" % payload.hex())
            else:
                print("opcode %d" % op)
    except (EOFError, ConnectionResetError):
        print("eof")
    except socket.timeout:
        print("still open")


def http(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            answer += d
    except (ConnectionResetError, socket.timeout):
        pass
    if not answer:
        print("closed without an answer")
        return
    head, _, body = answer.partition(b"\r\n\r\n")
    print(head.split(b"\r\n")[0].decode())
    print(body.decode().strip())


if __name__ == "__main__":
    {"fragments": fragments, "unmasked": unmasked, "http": http}[sys.argv[1]](int(sys.argv[2]))
