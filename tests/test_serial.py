"""The host side of the UART bridge without a board: CRC, framing, and the backend's requests, retries and errors over
a loopback transport that answers like the bridge (docs/fpga.md)."""

import asyncio
import struct

import numpy as np
import pytest
from amaranth.lib.crc.catalog import CRC16_CCITT_FALSE

from pimgen.errors import InputError
from tb.host.serial import (MAX_WORDS, REPLY_SYNC, LinkError, SerialBackend, crc16, decode_reply,
                            encode_request)


def test_crc_matches_the_gateware_parameters():
    rng = np.random.default_rng(0)
    reference = CRC16_CCITT_FALSE()
    for n in (0, 1, 2, 9, 100, 1030):
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        assert crc16(data) == reference.compute(data)
    assert crc16(b"123456789") == 0x29B1                 # the catalogue's check value


class FakeBridge:
    """A transport answering requests as the bridge does, from a dict memory; it can damage the next replies."""

    def __init__(self, damage=0):
        self.memory = {}
        self.pending = b""
        self.damage = damage

    async def send(self, frame):
        assert frame[0] == 0x5A and crc16(frame[1:-2]) == struct.unpack("<H", frame[-2:])[0]
        cmd, addr, count = struct.unpack("<BIH", frame[1:8])
        step = 0 if cmd & 2 else 1
        if cmd & 1:
            words = [self.memory.get(addr + i * step, 0) for i in range(count)]
        else:
            for i, w in enumerate(struct.unpack(f"<{count}I", frame[8:-2])):
                self.memory[addr + i * step] = w
            words = []
        body = struct.pack("<BH", 0, len(words)) + b"".join(struct.pack("<I", w) for w in words)
        reply = bytes([REPLY_SYNC]) + body + struct.pack("<H", crc16(body))
        if self.damage:
            self.damage -= 1
            reply = reply[:-1] + bytes([reply[-1] ^ 1])
        self.pending += reply

    async def receive(self, count, timeout_s):
        data, self.pending = self.pending[:count], self.pending[count:]
        return data


def run(coro):
    return asyncio.run(coro)


def test_requests_split_and_round_trip():
    bridge = FakeBridge()
    backend = SerialBackend(bridge)
    values = list(range(1000))
    run(backend.write_burst(100, values))
    assert backend.requests == 4                          # 1000 words in requests of at most 256
    assert run(backend.read_many(range(100, 1100))) == values
    run(backend.write_many([7, 7, 7, 8, 9], [1, 2, 3, 4, 5]))   # a FIFO address, then a run
    assert bridge.memory[7] == 3 and bridge.memory[9] == 5
    assert run(backend.read(8)) == 4


def test_damaged_replies_are_retried_then_reported():
    backend = SerialBackend(FakeBridge(damage=2), retries=3)
    run(backend.write(1, 5))
    assert backend.retried == 2
    with pytest.raises(LinkError, match="No good reply from the bridge after 2 tries"):
        run(SerialBackend(FakeBridge(damage=5), retries=1).read(1))


def test_framing_checks():
    with pytest.raises(InputError, match="1..256 words"):
        encode_request(True, 0, MAX_WORDS + 1)
    frame = encode_request(False, 0x1234, [1, 2])
    assert frame[0] == 0x5A and len(frame) == 1 + 1 + 4 + 2 + 8 + 2
    with pytest.raises(LinkError, match="bad CRC"):
        decode_reply(bytes([REPLY_SYNC, 0, 0, 0]), b"\x00\x00")


@pytest.mark.parametrize("args, match", [
    (["--backend", "serial"], "--backend serial needs --port"),
    (["--port", "/dev/ttyUSB0"], "--port and --baud apply to --backend serial"),
    (["--backend", "serial", "--port", "/dev/ttyUSB0", "--waves"], "--waves applies to --backend sim"),
])
def test_serial_options_checked(no_build, capsys, args, match):
    from cli_helpers import error_line, pimgen
    assert pimgen("run", "gnn", "--random", "20", *args, "--build-dir", no_build) == 2
    assert match in error_line(capsys)


def test_no_board_is_one_line(no_build, capsys, tmp_path):
    """A port that does not exist: one line naming it, a failed-run status, nothing built."""
    from cli_helpers import pimgen
    status = pimgen("run", "gnn", "--random", "20", "--backend", "serial", "--port", tmp_path / "ttyNONE",
                    "--build-dir", no_build)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert status == 4 and len(lines) == 1 and "cannot open it" in lines[0] and "ttyNONE" in lines[0], err
