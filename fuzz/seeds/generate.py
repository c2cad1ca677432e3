#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/seeds/<target>/.

Run from anywhere: python3 fuzz/seeds/generate.py. Deterministic; rerun
after changing it and commit the result. File names are the content's
SHA-1 (like libFuzzer's own corpus files), so reruns do not duplicate.

request_decoder and recordio_decoder inputs start with the control prefix
described in fuzz/src/lib.rs: a control byte (bits 0-2: number of piece
size bytes, bits 3-4: limits preset) then the piece sizes, then the stream.
"""

import hashlib
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def message(frm, to_id, name, body, form="both"):
    """A libprocess message as our encoder (and upstream 1.2-1.11) writes
    it; form "user-agent" / "libprocess-from" keeps only that header (the
    other two forms the receive path accepts)."""
    head = "POST " + ("/" + to_id if to_id else "") + "/" + name + " HTTP/1.1\r\n"
    if form in ("both", "user-agent"):
        head += "User-Agent: libprocess/" + frm + "\r\n"
    if form in ("both", "libprocess-from"):
        head += "Libprocess-From: " + frm + "\r\n"
    head += "Connection: Keep-Alive\r\nHost: \r\n"
    if not body:
        return (head + "\r\n").encode()
    return (
        head.encode()
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + ("%x\r\n" % len(body)).encode()
        + body
        + b"\r\n0\r\n\r\n"
    )


def content_length(frm, path, body, form="libprocess-from"):
    head = "POST " + path + " HTTP/1.1\r\n"
    if form == "libprocess-from":
        head += "Libprocess-From: " + frm + "\r\n"
    else:
        head += "User-Agent: libprocess/" + frm + "\r\n"
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def prefix(sizes=(), preset=0):
    assert len(sizes) <= 7 and 0 <= preset <= 3
    return bytes([len(sizes) | preset << 3]) + bytes(sizes)


def write(target, data):
    folder = os.path.join(HERE, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def request_decoder():
    slave = "slave(1)@10.0.0.2:5051"
    ping = message(slave, "master", "mesos.internal.Ping", b"")
    register = message(slave, "master", "mesos.internal.RegisterSlaveMessage", bytes(range(26)))
    ua_only = message("scheduler-1a2b@127.0.0.1:38211", "master",
                      "mesos.internal.ReregisterFrameworkMessage", b"\x0a\x03abc",
                      form="user-agent")
    from_only = message("slave(1)@127.0.0.1:5051", "slave-observer(3)",
                        "mesos.internal.PongSlaveMessage", b"", form="libprocess-from")
    from_only_body = message("master@10.0.0.1:5050", "slave(1)",
                             "mesos.internal.SlaveRegisteredMessage", b"\x0a\x05S0-01",
                             form="libprocess-from")
    cl = content_length("x@1.2.3.4:5", "/a/b", b"abc")
    cl_ua = content_length("executor(1)@10.0.0.3:40000", "/slave(1)/mesos.internal.StatusUpdateMessage",
                           b"\x08\x01\x12\x02id", form="user-agent")
    endpoint = b"GET /master/state?jsonp=f HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"
    http10 = b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    multi_chunk = (b"POST /a/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n")
    pipelined = ping + register + cl + from_only + b"\r\n" + endpoint

    streams = [ping, register, ua_only, from_only, from_only_body, cl, cl_ua,
               endpoint, http10, multi_chunk, pipelined]
    for i, stream in enumerate(streams):
        write("request_decoder", prefix() + stream)                      # byte at a time
        write("request_decoder", prefix((min(len(stream) // 2, 255),)) + stream)  # two halves
        write("request_decoder", prefix((7, 13, 0, 64), preset=3) + stream)
        write("request_decoder", prefix((5,), preset=1 + i % 2) + stream)
    # A few errors, to start from each kind.
    for stream in [
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
        b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n",
    ]:
        write("request_decoder", prefix((3,)) + stream)


def upid_parse():
    for s in [
        "master@10.0.0.1:5050",
        "slave(1)@10.0.0.2:5051",
        "scheduler-1a2b3c4d-0000-0000-0000-000000000000@127.0.0.1:38211",
        "slave-observer(3)@192.168.1.1:65535",
        "executor(1)@0.0.0.0:0",
        "@0.0.0.0:0",
        "",
        "a:b@1.2.3.4:5",
        "master",
        "master@1.2.3.4",
        "master@1.2.3.4:",
        "master@1.2.3.4:70000",
        "master@1.2.3.4:050",
        "(1)@255.255.255.255:1",
    ]:
        write("upid_parse", s.encode())


def recordio_decoder():
    def frame(*records):
        return b"".join(b"%d\n%s" % (len(r), r) for r in records)

    streams = [
        frame(b"hello"),
        frame(b"hello", b"", b"world!"),
        frame(b'{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"F-1"}}}',
              b'{"type":"HEARTBEAT"}'),
        frame(bytes(range(40))),
        b"5\nhel",                    # truncated
        b"007\nleading",              # leading zeros
        b"99999999999999999999\n",    # over u64::MAX: a header error
        b"18446744073709551615\n",    # u64::MAX: too large
    ]
    for stream in streams:
        write("recordio_decoder", prefix() + stream)
        write("recordio_decoder", prefix((min(len(stream) // 2, 255),)) + stream)
        write("recordio_decoder", prefix((1, 3, 0, 8), preset=3) + stream)
        write("recordio_decoder", prefix((2,), preset=2) + stream)


if __name__ == "__main__":
    for target in ("request_decoder", "upid_parse", "recordio_decoder"):
        shutil.rmtree(os.path.join(HERE, target), ignore_errors=True)
    request_decoder()
    upid_parse()
    recordio_decoder()
