#!/usr/bin/env python3
"""The lab's WAN link: forwards IP packets between a TUN device in one router namespace and a TUN
device in another, each way after a fixed delay. The lab's kernel has no netem, so the delay between
sites is made here, in user space, where it is exact to about a millisecond.

usage: wan.py NETNS_A DEVICE_A NETNS_B DEVICE_B DELAY_MS
Attaches to the (persistent) TUN devices, which the lab creates and routes, then forwards until killed.
"""
import ctypes
import fcntl
import heapq
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def open_tun(netns: str, device: str) -> int:
    """Opens DEVICE as a TUN in NETNS; the descriptor stays bound to that namespace's device."""
    with open(f"/run/netns/{netns}") as ns:
        if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", device.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main() -> None:
    netns_a, device_a, netns_b, device_b = sys.argv[1:5]
    delay_ms = float(sys.argv[5])
    with open("/proc/self/ns/net") as own:
        a = open_tun(netns_a, device_a)
        b = open_tun(netns_b, device_b)
        libc.setns(own.fileno(), CLONE_NEWNET)
    other = {a: b, b: a}
    delay = delay_ms / 1000.0
    queue: list = []  # (due, sequence, fd, packet)
    sequence = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"wan: {netns_a}/{device_a} <-> {netns_b}/{device_b}, {delay_ms} ms each way", flush=True)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        readable, _, _ = select.select([a, b], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            while True:
                try:
                    packet = os.read(fd, 65535)
                except BlockingIOError:
                    break
                heapq.heappush(queue, (now + delay, sequence, other[fd], packet))
                sequence += 1
        while queue and queue[0][0] <= time.monotonic():
            _, _, fd, packet = heapq.heappop(queue)
            try:
                os.write(fd, packet)
            except OSError:
                pass  # the far device is gone or full: a WAN drops packets too


if __name__ == "__main__":
    main()
