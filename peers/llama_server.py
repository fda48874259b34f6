"""llama.cpp's own OpenAI-compatible server, ``llama-server``, built here from source.

llama-server is not packaged by Debian bookworm, but its source ships inside the llama-cpp-python sdist
(``vendor/llama.cpp``): :func:`ensure_built` downloads that sdist from PyPI with pip
(``pip download --no-binary llama-cpp-python --no-deps llama-cpp-python==0.3.36``: only that package as an
sdist — with ``:all:`` pip would also build the sdist's build dependencies, cmake among them, from source
just to read its metadata, which took over 10 minutes on a fresh machine), unpacks ``vendor/llama.cpp``
into the cache folder and builds the single target ``llama-server`` with cmake (no curl, no tests, no
examples; two jobs). The binary stays in the cache, never in the clone; a marker makes the build a
one-time cost (about 9 minutes on a 2-core machine).

:func:`start` runs ``llama-server -m <SmolLM2 GGUF> --host 127.0.0.1 --port P -c 4096 --parallel 4``.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

from models.smollm2 import smollm2_path
from peers.cache import InstallError, cache_dir, log_path, marker_matches, offline_env, run_step, write_marker
from peers.process import Running, free_port, serving

#: The llama-cpp-python release whose vendored llama.cpp is built (the same one the ``llama`` extra runs).
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
#: cmake options of the build (only the server target is built).
CMAKE_OPTIONS = ("-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DLLAMA_BUILD_EXAMPLES=OFF", "-DBUILD_SHARED_LIBS=OFF")
BUILD_JOBS = 2
DOWNLOAD_TIMEOUT_S = 600.0
CONFIGURE_TIMEOUT_S = 300.0
BUILD_TIMEOUT_S = 2700.0
STARTUP_TIMEOUT_S = 120.0
#: Server options besides the model and address (context 4096 shared by 4 slots).
SERVER_OPTIONS = ("-c", "4096", "--parallel", "4")


def source_dir() -> Path:
    return cache_dir("llama.cpp") / f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"


def binary_path() -> Path:
    """Where the built ``llama-server`` lies (it may not exist yet)."""
    return source_dir() / "build" / "bin" / "llama-server"


def _unpack(sdist: Path, dest: Path) -> None:
    """Unpack only ``vendor/llama.cpp`` of the sdist into ``dest`` (refusing paths that leave it)."""
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
    alt = f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
    with tarfile.open(sdist) as tar:
        members = []
        for m in tar.getmembers():
            name = m.name
            for p in (prefix, alt):
                if name.startswith(p):
                    m.name = f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/" + name[len(p):]
                    members.append(m)
        if not members:
            raise InstallError(f"{sdist} has no vendor/llama.cpp")
        tar.extractall(dest, members=members, filter="data")


def ensure_built() -> Path:
    """Build ``llama-server`` once (download, unpack, cmake); return the binary's path."""
    root = cache_dir("llama.cpp")
    marker = root / "oairef-built.json"
    expected = {"llama_cpp_python": LLAMA_CPP_PYTHON_VERSION, "cmake_options": list(CMAKE_OPTIONS),
                "target": "llama-server"}
    binary = binary_path()
    if binary.exists() and marker_matches(marker, expected):
        return binary
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise InstallError(f"building llama-server needs {tool} on PATH (apt-get install cmake g++)")
    log = log_path("build-llama-server")
    sdist_dir = cache_dir("llama.cpp", "sdist")
    sdists = sorted(sdist_dir.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"))
    if not sdists:
        run_step(f"llama-server: pip download llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} (its sdist)",
                 [sys.executable, "-m", "pip", "download", "--no-binary", "llama-cpp-python", "--no-deps",
                  "--progress-bar", "off", "-d", str(sdist_dir), f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"],
                 log, DOWNLOAD_TIMEOUT_S)
        sdists = sorted(sdist_dir.glob("llama_cpp_python-*.tar.gz"))
    if not sdists:
        raise InstallError(f"pip download left no llama_cpp_python sdist in {sdist_dir} (log {log})")
    src = source_dir()
    if not (src / "CMakeLists.txt").exists():
        _unpack(sdists[-1], root)
    run_step("llama-server: cmake configure", ["cmake", "-S", str(src), "-B", str(src / "build"), *CMAKE_OPTIONS],
             log, CONFIGURE_TIMEOUT_S)
    run_step(f"llama-server: cmake build (-j{BUILD_JOBS}, ~9 min on 2 cores)",
             ["cmake", "--build", str(src / "build"), "--target", "llama-server", "-j", str(BUILD_JOBS)],
             log, BUILD_TIMEOUT_S)
    if not binary.exists():
        raise InstallError(f"the build finished but {binary} is missing (log {log})")
    write_marker(marker, expected)
    return binary


def install() -> None:
    ensure_built()


def version() -> str:
    return f"llama.cpp vendored in llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}"


@contextlib.contextmanager
def start() -> Iterator[Running]:
    """``llama-server`` with SmolLM2's GGUF on a free loopback port, stopped when the block ends."""
    binary = ensure_built()
    port = free_port()
    cmd = [str(binary), "-m", str(smollm2_path()), "--host", "127.0.0.1", "--port", str(port), *SERVER_OPTIONS]
    with serving("llama-server", cmd, port, log_path("llama-server"), STARTUP_TIMEOUT_S, env=offline_env()) as run:
        yield run
