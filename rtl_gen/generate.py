"""Config -> elaborated component -> Verilog + manifest.json."""

import json
import os
import re
import subprocess
from pathlib import Path

from amaranth.back import verilog

from hw.common.engine import ID_MAGIC
from pimgen.config import EngineConfig
from .engines import engine_for

__all__ = ["generate", "manifest_for", "Generated", "lint", "WAIVERS", "MANIFEST_VERSION"]

MANIFEST_VERSION = 1
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


def build_manifest(config, component):
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
        "reset": "rst",
        "bus": {"prefix": "bus", "addr_width": component.addr_width, "data_width": 32,
                "addressing": "word"},
        "ports": [{"name": "clk", "direction": "in", "width": 1},
                  {"name": "rst", "direction": "in", "width": 1}] + _ports(component),
        "registers": component.register_map.describe(),
        "windows": component.describe_windows(),
        "errors": {str(k): v for k, v in sorted(component.errors.items())},
        "counters": list(component.counter_names),
    }


def manifest_for(config):
    """The manifest of ``config`` without generating Verilog (the register map and windows need no elaboration)."""
    component = engine_for(config).component(config)
    manifest = build_manifest(config, component)
    # The component was only built to read its map; tell Amaranth it is not an elaboratable someone forgot.
    for part in (component, component.csr, component.decoder, *component.windows.values()):
        part._MustUse__silence = True
    return manifest


def generate(config, out_dir):
    """Write ``<top>.v`` and ``manifest.json`` for ``config`` into ``out_dir``; returns :class:`Generated`.

    The Verilog is written only when its text changes, so that timestamps (and builds keyed on them) stay put.
    """
    if not isinstance(config, EngineConfig):
        raise TypeError(f"Config must be an engine config (GnnConfig, ...), not {config!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    component = engine_for(config).component(config)
    manifest = build_manifest(config, component)
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
        for i, f in enumerate(reg["fields"]):
            bits = f"{f['lsb'] + f['width'] - 1}:{f['lsb']}" if f["width"] > 1 else str(f["lsb"])
            lines.append(f"| {hex(reg['addr']) if i == 0 else ''} | {reg['name'] if i == 0 else ''} | {f['name']} | "
                         f"{bits} | {f['access']} | {f['doc'] or (reg['doc'] if i == 0 else '')} |")
    lines += ["", "## Memory windows", "",
              "| window | base | size (words) | element | banks |", "|---|---|---|---|---|"]
    for w in manifest["windows"]:
        kind = f"{'s' if w['signed'] else 'u'}{w['element_bits']}"
        lines.append(f"| {w['name']} | {hex(w['base'])} | {w['size']} | {kind} | {w['banks']} |")
    if manifest.get("errors"):
        lines += ["", "## STATUS.error codes", "", "| code | meaning |", "|---|---|"]
        lines += [f"| {code} | {text} |" for code, text in manifest["errors"].items()]
    return "\n".join(lines) + "\n"


#: An ``initial`` block that only zeroes one host-loaded memory bank (see hw.common.window.HOST_BANK_PREFIX).
_ZERO_INIT = re.compile(r"  initial begin\n    (host_bank\d+) ?\[\d+\] = \d+'h0+;\n"
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
    from .toolchain import verilator_env, require_verilator
    exe = require_verilator()
    cmd = [exe, "--lint-only", "-Wall", str(WAIVERS), str(generated.verilog), "--top-module", generated.top]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=verilator_env())
    return proc.returncode == 0, proc.stdout + proc.stderr
