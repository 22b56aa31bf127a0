#!/usr/bin/env python3
"""Delay on a path without netem (this kernel has no sch_netem): a TUN device
in a router namespace; every packet routed into it comes back out after
DELAY_MS, its TTL put back up by one so the router still counts as one hop.
Usage: tun-delay.py DEV DELAY_MS. Prints "up DEV" once the device exists (the
caller waits for that line, then adds its routes); runs until killed.
Python because opening a TUN device takes an ioctl that Node cannot make."""
import fcntl, heapq, os, select, struct, sys, time

dev, delay = sys.argv[1], float(sys.argv[2]) / 1000
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', dev.encode(), IFF_TUN | IFF_NO_PI))
os.set_blocking(fd, False)


def ttl_back(p):
    b = bytearray(p)
    if len(b) < 20 or b[0] >> 4 != 4:
        return bytes(b)
    b[8] = min(255, b[8] + 1)
    ihl = (b[0] & 15) * 4
    b[10] = b[11] = 0
    s = sum((b[i] << 8) | b[i + 1] for i in range(0, ihl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    c = ~s & 0xFFFF
    b[10], b[11] = c >> 8, c & 0xFF
    return bytes(b)


print('up', dev, flush=True)
queue, seq = [], 0
while True:
    wait = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
    if select.select([fd], [], [], wait)[0]:
        while True:
            try:
                p = os.read(fd, 65535)
            except BlockingIOError:
                break
            seq += 1
            heapq.heappush(queue, (time.monotonic() + delay, seq, ttl_back(p)))
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        try:
            os.write(fd, heapq.heappop(queue)[2])
        except OSError as e:
            print('write', e, file=sys.stderr, flush=True)
