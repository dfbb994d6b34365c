"""Config -> elaborated component -> Verilog + manifest.json."""

import gc
import json
import os
import re
import subprocess
import warnings
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import UnusedElaboratable

from hw.common.bus import DATA_WIDTH
from hw.common.engine import ID_MAGIC
from hw.common.window import HOST_BANK_PREFIX
from pimgen.config import MANIFEST_VERSION, EngineConfig
from pimgen.engines import engine_for
from pimgen.errors import InputError, InputTypeError

__all__ = ["generate", "manifest_for", "Generated", "lint", "WAIVERS", "MANIFEST_VERSION", "DEFAULT_CLOCK_HZ"]

#: The clock a design is generated for unless told otherwise (the simulation runs at it; boards say their own).
DEFAULT_CLOCK_HZ = 100_000_000
#: Verilator control file with the lint waivers for Amaranth's output; each waiver says why.
WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")


class Generated:
    """Paths and manifest of one generated design."""

    def __init__(self, out_dir, verilog_path, manifest_path, manifest):
        self.out_dir = Path(out_dir)
        self.verilog = Path(verilog_path)
        self.manifest_path = Path(manifest_path)
        self.manifest = manifest

    @property
    def top(self):
        return self.manifest["top"]


def _ports(component):
    ports = []
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        ports.append({"name": name, "direction": "in" if member.flow.value == "In" else "out",
                      "width": len(value)})
    return ports


def build_manifest(config, component, clock_hz=DEFAULT_CLOCK_HZ):
    """Manifest for a constructed engine component (no elaboration needed)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "engine": config.engine,
        "engine_code": config.engine_code,
        "version": list(config.version),
        "config": config.to_dict(),
        "id_magic": ID_MAGIC,                          # what the ID register reads
        "config_hash": config.config_hash,
        "config_readback": dict(config.readback()),   # what each CFG_<NAME> register reads
        "top": config.top_name,
        "verilog": f"{config.top_name}.v",
        "clock": "clk",
        "clock_hz": clock_hz,                          # the clock the design was generated for
        "reset": "rst",
        "bus": {"prefix": "bus", "addr_width": component.addr_width, "data_width": DATA_WIDTH,
                "addressing": "word"},
        "ports": [{"name": "clk", "direction": "in", "width": 1},
                  {"name": "rst", "direction": "in", "width": 1}] + _ports(component),
        "registers": component.register_map.describe(),
        "windows": component.describe_windows(),
        "errors": component.describe_errors(),
        "counters": component.describe_counters(),
    }


def _check_clock(clock_hz):
    if isinstance(clock_hz, bool) or not isinstance(clock_hz, (int, float)) or not 1e5 <= clock_hz <= 1e9:
        raise InputError(f"Clock must be a frequency in 100 kHz..1 GHz (in Hz), not {clock_hz!r}")
    return int(clock_hz)


def manifest_for(config, clock_hz=DEFAULT_CLOCK_HZ):
    """The manifest of ``config`` without generating Verilog (the register map and windows need no elaboration)."""
    if not isinstance(config, EngineConfig):
        raise InputTypeError(f"Config must be an engine config (GnnConfig, ...), not {config!r}")
    clock_hz = _check_clock(clock_hz)
    with warnings.catch_warnings():
        # The component is only built to read its map, never elaborated: that is not a forgotten elaboratable.
        warnings.simplefilter("ignore", UnusedElaboratable)
        component = engine_for(config).component(config)
        manifest = build_manifest(config, component, clock_hz)
        del component
        gc.collect()
    return manifest


def generate(config, out_dir, clock_hz=DEFAULT_CLOCK_HZ):
    """Write ``<top>.v`` and ``manifest.json`` for ``config`` into ``out_dir``; returns :class:`Generated`.

    The Verilog is written only when its text changes, so that timestamps (and builds keyed on them) stay put.
    """
    if not isinstance(config, EngineConfig):
        raise InputTypeError(f"Config must be an engine config (GnnConfig, ...), not {config!r}")
    clock_hz = _check_clock(clock_hz)
    if not isinstance(out_dir, (str, os.PathLike)):
        raise InputTypeError(f"Output folder must be a path, not {out_dir!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    component = engine_for(config).component(config)
    manifest = build_manifest(config, component, clock_hz)
    text = strip_zero_memory_init(verilog.convert(component, name=config.top_name, emit_src=False))
    verilog_path = out_dir / manifest["verilog"]
    manifest_path = out_dir / "manifest.json"
    _write_if_changed(verilog_path, text)
    _write_if_changed(manifest_path, json.dumps(manifest, indent=2) + "\n")
    _write_if_changed(out_dir / "registers.md", register_map_markdown(manifest))
    return Generated(out_dir, verilog_path, manifest_path, manifest)


def register_map_markdown(manifest):
    """The register map and memory windows of a manifest as a Markdown page for people."""
    lines = [f"# {manifest['top']}: register map", "",
             f"Engine `{manifest['engine']}` v{'.'.join(map(str, manifest['version']))}, config hash "
             f"`{manifest['config_hash']}`. 32-bit registers at word addresses on the `bus` port "
             f"({manifest['bus']['addr_width']}-bit word address).", "",
             "| addr | register | field | bits | access | description |", "|---|---|---|---|---|---|"]
    for reg in manifest["registers"]:
        name = reg["name"] if reg["kind"] == "register" else f"{reg['name']}[0..{reg['count'] - 1}]"
        for i, f in enumerate(reg["fields"]):
            bits = f"{f['lsb'] + f['width'] - 1}:{f['lsb']}" if f["width"] > 1 else str(f["lsb"])
            doc = f["doc"] or (reg["doc"] if i == 0 else "")
            if "enum" in f:
                doc += (": " if doc else "") + ", ".join(f"{v} {k}" for k, v in f["enum"].items())
            lines.append(f"| {hex(reg['addr']) if i == 0 else ''} | {name if i == 0 else ''} | {f['name']} | "
                         f"{bits} | {f['access']} | {doc} |")
    lines += ["", "## Windows", "",
              "| window | kind | base | size (words) | element | layout |", "|---|---|---|---|---|---|"]
    for w in manifest["windows"]:
        element = f"{'s' if w['signed'] else 'u'}{w['element_bits']}"
        if w["kind"] == "fifo":
            layout = f"{w['direction']} FIFO of {w['depth']}: data at +{w['data_offset']}, level at " \
                     f"+{w['status_offset']}"
        else:
            lay = w["layout"]
            dims = " x ".join(f"{d['name']}[{d['size']}]" + (" (banked)" if d["banked"] else "") for d in lay["dims"])
            layout = f"{dims}; {lay['banks']} banks, {lay['elements_per_word']} per bus word"
        lines.append(f"| {w['name']} | {w['kind']} | {hex(w['base'])} | {w['size']} | {element} | {layout} |")
    if manifest.get("errors"):
        lines += ["", "## STATUS.error codes", "", "| code | name | meaning |", "|---|---|---|"]
        lines += [f"| {code} | {e['name']} | {e['meaning']} |" for code, e in manifest["errors"].items()]
    return "\n".join(lines) + "\n"


#: An ``initial`` block that only zeroes one host-loaded memory bank (see hw.common.window.HOST_BANK_PREFIX).
_ZERO_INIT = re.compile(rf"  initial begin\n    ({HOST_BANK_PREFIX}[0-9_]+) ?\[\d+\] = \d+'h0+;\n"
                        r"(?:    \1 ?\[\d+\] = \d+'h0+;\n)*  end\n")


def strip_zero_memory_init(text):
    """Drop ``initial`` blocks that only set the words of a host-loaded memory bank to zero.

    yosys writes one line per word of every memory's init value, also when it is all zeros: 8.6 MB of Verilog for
    the default GNN config, most of Verilator's compile time. The banks of a ``WindowedMemory`` are loaded by the
    host before use, so their power-on content is not part of the design. Every other memory (ROMs, FIFOs, an
    engine's own state) keeps its initial value.
    """
    return _ZERO_INIT.sub("", text)


def _write_if_changed(path, text):
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def lint(generated):
    """Run ``verilator --lint-only -Wall`` with the project's waivers; returns (ok, output)."""
    from .toolchain import require_verilator, verilator_env
    exe = require_verilator()
    cmd = [exe, "--lint-only", "-Wall", str(WAIVERS), str(generated.verilog), "--top-module", generated.top]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=verilator_env())
    return proc.returncode == 0, proc.stdout + proc.stderr
