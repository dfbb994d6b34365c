"""The host side of the UART bridge (docs/fpga.md): frames, a backend over any byte transport, and a pyserial
transport for boards.

:class:`SerialBackend` turns the driver's word reads and writes into bridge requests of up to 256 words, checks
every reply (sync, status, count, CRC), retries a request whose reply was damaged, and raises
:class:`LinkError` with the reason when the link stays broken. The transport is anything with ``async send(data)``
and ``async receive(count, timeout_s)``: :class:`PySerialTransport` for a board, a cocotb UART driver in the
pin-level simulation of the SoC (``tb/soc``). No cocotb and no Amaranth here.
"""

import asyncio
import struct

from pimgen.errors import InputError, RunFailed, ToolMissing
from .backend import Backend

__all__ = ["REQUEST_SYNC", "REPLY_SYNC", "MAX_WORDS", "STATUS", "LinkError", "encode_request", "decode_reply",
           "crc16", "SerialBackend", "PySerialTransport"]

REQUEST_SYNC = 0x5A
REPLY_SYNC = 0xA5
#: Largest count of one request.
MAX_WORDS = 256
#: Reply status codes and their meaning (docs/fpga.md).
STATUS = {0: "ok", 1: "bad CRC", 2: "bad command", 3: "bad count", 4: "timeout (the frame stopped)",
          5: "address out of range"}
CMD_READ = 0x1
CMD_FIXED = 0x2

def crc16(data):
    """CRC-16/CCITT-FALSE of ``data``: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR, the
    gateware's ``amaranth.lib.crc.catalog.CRC16_CCITT_FALSE`` (tests/test_serial.py checks the two agree). Written
    out here so that the host side needs no Amaranth."""
    crc = 0xFFFF
    for byte in bytes(data):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


class LinkError(RunFailed):
    """The link to the board failed: no reply, a damaged reply after every retry, or an error status."""


def encode_request(read, addr, count_or_words, fixed=False):
    """The bytes of one request: a read of ``count`` words, or a write of ``words``, at ``addr`` (incrementing, or
    ``fixed`` for a FIFO window)."""
    cmd = (CMD_READ if read else 0) | (CMD_FIXED if fixed else 0)
    words = [] if read else [int(w) & 0xFFFF_FFFF for w in count_or_words]
    count = count_or_words if read else len(words)
    if not 1 <= count <= MAX_WORDS:
        raise InputError(f"A bridge request carries 1..{MAX_WORDS} words, not {count}")
    if not 0 <= addr < 1 << 32:
        raise InputError(f"A bridge address must be in 0..2**32-1, not {addr}")
    body = struct.pack("<BIH", cmd, addr, count) + b"".join(struct.pack("<I", w) for w in words)
    return bytes([REQUEST_SYNC]) + body + struct.pack("<H", crc16(body))


def decode_reply(header, payload):
    """Check a reply: ``header`` is its first 4 bytes (sync, status, count), ``payload`` the rest (data and CRC).
    Returns ``(status, words)``; raises :class:`LinkError` on a damaged reply."""
    if len(header) != 4 or header[0] != REPLY_SYNC:
        raise LinkError(f"Bridge reply does not start with 0x{REPLY_SYNC:02X}: {bytes(header).hex()}")
    status, count = header[1], struct.unpack("<H", header[2:4])[0]
    if len(payload) != 4 * count + 2:
        raise LinkError(f"Bridge reply is {len(payload)} bytes after its header, not {4 * count + 2}")
    body = bytes(header[1:]) + bytes(payload[:-2])
    if struct.unpack("<H", payload[-2:])[0] != crc16(body):
        raise LinkError("Bridge reply has a bad CRC")
    return status, list(struct.unpack(f"<{count}I", payload[:-2]))


class SerialBackend(Backend):
    """:class:`~tb.host.backend.Backend` over the UART bridge.

    Parameters
    ----------
    transport : object with ``async send(data)`` and ``async receive(count, timeout_s) -> bytes``
        ``receive`` returns fewer bytes than asked when the timeout passes.
    reply_timeout_s : float
        How long a reply may take to start, and each of its parts to arrive.
    retries : int
        Times a request is sent again after a damaged or missing reply (status 1 and 4 included: the request, not
        the board, was at fault), before :class:`LinkError`.
    """

    def __init__(self, transport, reply_timeout_s=1.0, retries=3):
        self.transport = transport
        self.reply_timeout_s = reply_timeout_s
        self.retries = retries
        self.requests = 0
        self.retried = 0

    async def _request(self, read, addr, count_or_words, fixed=False):
        frame = encode_request(read, addr, count_or_words, fixed)
        problem = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                await self._drain()
            self.requests += 1
            await self.transport.send(frame)
            try:
                header = await self._receive(4, "the reply's header")
                count = struct.unpack("<H", header[2:4])[0] if header[0] == REPLY_SYNC else 0
                payload = await self._receive(4 * count + 2, "the reply's data")
                status, words = decode_reply(header, payload)
            except LinkError as exc:
                problem = str(exc)
                continue
            if status in (1, 4):                 # the request arrived damaged: send it again
                problem = f"the bridge answered status {status} ({STATUS[status]})"
                continue
            if status != 0:
                raise LinkError(f"The bridge refused a {'read' if read else 'write'} at 0x{addr:x}: status {status} "
                                f"({STATUS.get(status, 'unknown')})")
            return words
        raise LinkError(f"No good reply from the bridge after {self.retries + 1} tries: {problem}")

    async def _receive(self, count, what):
        data = await self.transport.receive(count, self.reply_timeout_s)
        if len(data) != count:
            raise LinkError(f"The bridge sent {len(data)} of the {count} bytes of {what} within "
                            f"{self.reply_timeout_s} s")
        return data

    async def _drain(self):
        """Discard what is left of a damaged reply."""
        while await self.transport.receive(1, 0.05):
            pass

    async def idle(self, cycles):
        """Wait about ``cycles`` engine cycles: through the transport's ``sleep(seconds)`` when it has one (a
        simulated wire keeps simulated time), else in wall time."""
        sleep = getattr(self.transport, "sleep", None)
        if sleep is None:
            await super().idle(cycles)
        else:
            await sleep(cycles / self.clock_hz)

    async def read(self, addr):
        return (await self._request(True, addr, 1))[0]

    async def write(self, addr, value):
        await self._request(False, addr, [value])

    async def write_burst(self, addr, values):
        values = list(values)
        for start in range(0, len(values), MAX_WORDS):
            await self._request(False, addr + start, values[start:start + MAX_WORDS])

    async def read_many(self, addrs):
        out = []
        for addr, count, fixed in _runs(list(addrs)):
            out += await self._request(True, addr, count, fixed)
        return out

    async def write_many(self, addrs, values):
        addrs, values = list(addrs), list(values)
        if len(addrs) != len(values):
            raise InputError(f"write_many got {len(addrs)} addresses and {len(values)} values")
        done = 0
        for addr, count, fixed in _runs(addrs):
            await self._request(False, addr, values[done:done + count], fixed)
            done += count


def _runs(addrs):
    """Split addresses into requests: runs of consecutive addresses, or of one repeated address (a FIFO window), of
    at most MAX_WORDS words; yields ``(addr, count, fixed)``."""
    i = 0
    while i < len(addrs):
        j = i + 1
        if j < len(addrs) and addrs[j] == addrs[i]:
            while j < len(addrs) and addrs[j] == addrs[i] and j - i < MAX_WORDS:
                j += 1
            yield addrs[i], j - i, True
        else:
            while j < len(addrs) and addrs[j] == addrs[j - 1] + 1 and j - i < MAX_WORDS:
                j += 1
            yield addrs[i], j - i, False
        i = j


class PySerialTransport:
    """A serial port (the board's USB UART) through pyserial, usable from asyncio (blocking calls run in a thread).

    Raises :class:`~pimgen.errors.ToolMissing` when pyserial is not installed and :class:`LinkError` (one line) when
    the port cannot be opened: no such device, or no permission."""

    def __init__(self, port, baud):
        try:
            import serial
        except ImportError:
            raise ToolMissing("pyserial is not installed: pip install pyserial") from None
        try:
            self._port = serial.Serial(port, baud, timeout=0)
        except serial.SerialException as exc:
            raise LinkError(f"--port {port}: cannot open it ({exc}); is the board plugged in, and may you use the "
                            "port (the dialout group)?") from None

    async def send(self, data):
        await asyncio.to_thread(self._port.write, data)

    async def receive(self, count, timeout_s):
        def read():
            self._port.timeout = timeout_s
            return self._port.read(count)
        return await asyncio.to_thread(read)

    def close(self):
        self._port.close()
