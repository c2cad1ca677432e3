#!/usr/bin/env bash
# Sets up the Python side of the interop oracle tests (tests/tests/oracle.rs):
#
#   .venv/                     python3 venv with protobuf==3.20.3, pymesos==0.3.15
#                              and upstream's generated mesos_pb2 (mesos.interface
#                              1.11.0, importable as `from mesos.interface import
#                              mesos_pb2`), and Apache's `mesos` CLI from PyPI
#                              (avmesos-cli 1.0.0, run as .venv/bin/mesos-cli;
#                              tools/tests/avmesos_cli.rs)
#   .cache/interop/            downloads, and the oracle
#     mesos-1.11.0-descriptors.pb   FileDescriptorSet of every .proto compiled
#                                   into upstream's libmesos 1.11.0, extracted
#                                   from mesos.scheduler 1.11.0's _scheduler.so
#
# Idempotent: a second run only checks what is there. Run from anywhere.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
CACHE="$ROOT/.cache/interop"
PY="$VENV/bin/python"

PROTOBUF_VERSION=3.20.3
PYMESOS_VERSION=0.3.15
# pymesos's dependencies, pinned too.
SIX_VERSION=1.17.0
ADDICT_VERSION=2.4.0
KAZOO_VERSION=2.11.0
HTTP_PARSER_VERSION=0.9.0
MESOS_VERSION=1.11.0

# mesos.scheduler publishes only a bdist_dumb tarball (no setup.py, version
# "1.11.0.linux-x86_64"), which `pip download` rejects after fetching it, so
# it is fetched from PyPI's file host by its pinned address and checked
# against a pinned sha256.
SCHED_TARBALL="mesos.scheduler-$MESOS_VERSION.linux-x86_64.tar.gz"
SCHED_URL="https://files.pythonhosted.org/packages/95/df/63f5260be552ee9cc5b6ba34d86aba9af5a2ce66ae29bf0f5185a8bc2432/$SCHED_TARBALL"
SCHED_SHA256=1d376f20bca6d05ee8b90c1c123a452b28753497ccc2f1c80ea3ac94c12e8f6e

ORACLE="$CACHE/mesos-$MESOS_VERSION-descriptors.pb"

die() {
    echo "setup-python.sh: error: $*" >&2
    exit 1
}

say() {
    echo "setup-python.sh: $*"
}

mkdir -p "$CACHE"

# 1. The venv.
if [ ! -x "$PY" ]; then
    command -v python3 >/dev/null || die "python3 not found"
    say "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed (is the venv module installed? apt-get install python3-venv)"
fi

# 2. Pinned packages.
installed_version() {
    "$PY" - "$1" <<'PYEOF' 2>/dev/null || true
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
PYEOF
}

SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    || die "cannot find the venv's site-packages"

if [ "$(installed_version protobuf)" != "$PROTOBUF_VERSION" ] \
    || [ "$(installed_version six)" != "$SIX_VERSION" ] \
    || [ "$(installed_version addict)" != "$ADDICT_VERSION" ] \
    || [ "$(installed_version kazoo)" != "$KAZOO_VERSION" ]; then
    say "installing protobuf==$PROTOBUF_VERSION and pymesos's dependencies"
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "protobuf==$PROTOBUF_VERSION" "six==$SIX_VERSION" \
        "addict==$ADDICT_VERSION" "kazoo==$KAZOO_VERSION" \
        || die "pip install protobuf==$PROTOBUF_VERSION six addict kazoo failed"
fi

# pymesos needs http-parser, whose only release has a Cython extension that
# no longer compiles for Python >= 3.11; pymesos only uses its pure-Python
# parser (http_parser.http falls back to http_parser.pyparser), so the sdist's
# pure-Python modules are installed by hand, with a dist-info so pip sees it.
if [ "$(installed_version http-parser)" != "$HTTP_PARSER_VERSION" ]; then
    HP_SDIST="$CACHE/http-parser-$HTTP_PARSER_VERSION.tar.gz"
    if [ ! -f "$HP_SDIST" ]; then
        say "downloading http-parser==$HTTP_PARSER_VERSION"
        "$PY" -m pip download --quiet --disable-pip-version-check --no-deps \
            --no-binary=:all: "http-parser==$HTTP_PARSER_VERSION" -d "$CACHE" \
            || die "pip download http-parser==$HTTP_PARSER_VERSION failed"
        [ -f "$HP_SDIST" ] || die "pip download did not produce $HP_SDIST"
    fi
    say "installing http-parser==$HTTP_PARSER_VERSION (pure Python)"
    "$PY" - "$HP_SDIST" "$SITE" "$HTTP_PARSER_VERSION" <<'PYEOF' || die "cannot install http-parser from $HP_SDIST"
import os, re, sys, tarfile
sdist, site, version = sys.argv[1:]
pkg = os.path.join(site, "http_parser")
info = os.path.join(site, "http_parser-%s.dist-info" % version)
os.makedirs(pkg, exist_ok=True)
os.makedirs(info, exist_ok=True)
installed = []
with tarfile.open(sdist) as tar:
    for member in tar.getmembers():
        if re.fullmatch(r"[^/]+/http_parser/[A-Za-z0-9_]+\.py", member.name):
            target = os.path.join(pkg, os.path.basename(member.name))
            with open(target, "wb") as out:
                out.write(tar.extractfile(member).read())
            installed.append(os.path.relpath(target, site))
if "http_parser/pyparser.py" not in installed:
    sys.exit("no http_parser/pyparser.py in " + sdist)
with open(os.path.join(info, "METADATA"), "w") as f:
    f.write("Metadata-Version: 2.1\nName: http-parser\nVersion: %s\n" % version)
with open(os.path.join(info, "INSTALLER"), "w") as f:
    f.write("setup-python.sh\n")
with open(os.path.join(info, "RECORD"), "w") as f:
    for path in installed + [os.path.relpath(os.path.join(info, n), site) for n in ("METADATA", "INSTALLER", "RECORD")]:
        f.write(path + ",,\n")
PYEOF
fi

if [ "$(installed_version pymesos)" != "$PYMESOS_VERSION" ]; then
    say "installing pymesos==$PYMESOS_VERSION"
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps "pymesos==$PYMESOS_VERSION" \
        || die "pip install pymesos==$PYMESOS_VERSION failed"
fi
"$PY" -c 'import pymesos, http_parser.http' || die "'import pymesos' fails in $VENV"

# 3. mesos.interface: upstream's generated mesos_pb2.py. Only a py2 wheel
# exists, so it is downloaded for py2 and its two modules are unpacked into
# the venv (`mesos` becomes an implicit namespace package, as the wheel's
# nspkg .pth made it under py2).
IFACE_WHEEL="$CACHE/mesos.interface-$MESOS_VERSION-py2-none-any.whl"
if [ ! -f "$IFACE_WHEEL" ]; then
    say "downloading mesos.interface==$MESOS_VERSION"
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --python-version 2.7 --implementation cp \
        --abi none --platform any "mesos.interface==$MESOS_VERSION" -d "$CACHE" \
        || die "pip download mesos.interface==$MESOS_VERSION failed"
    [ -f "$IFACE_WHEEL" ] || die "pip download did not produce $IFACE_WHEEL"
fi

if [ ! -f "$SITE/mesos/interface/mesos_pb2.py" ] || [ "$IFACE_WHEEL" -nt "$SITE/mesos/interface/mesos_pb2.py" ]; then
    say "unpacking mesos_pb2.py into $SITE"
    "$PY" - "$IFACE_WHEEL" "$SITE" <<'PYEOF' || die "cannot unpack $IFACE_WHEEL"
import os, sys, zipfile
wheel, site = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for member in ("mesos/interface/__init__.py", "mesos/interface/mesos_pb2.py"):
        target = os.path.join(site, member)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(member) as src, open(target + ".tmp", "wb") as dst:
            dst.write(src.read())
        os.replace(target + ".tmp", target)
PYEOF
fi

"$PY" -c 'from mesos.interface import mesos_pb2; import google.protobuf; mesos_pb2.FrameworkInfo' \
    || die "'from mesos.interface import mesos_pb2' fails in $VENV"

# 4. Apache's CLI as published on PyPI (avmesos-cli, the `mesos` CLI of
# upstream's src/python/cli_new packaged as a py3 wheel). Its declared
# dependencies drag in PyInstaller, tox and isort, which it never imports;
# only what its modules import is installed, pinned with their own
# dependencies (all --no-deps, so nothing unpinned comes along).
AVMESOS_CLI_VERSION=1.0.0
AVMESOS_CLI_DEPS=(
    "requests==2.32.3" "urllib3==2.2.3" "certifi==2024.8.30" "idna==3.10"
    "charset-normalizer==3.4.0" "tenacity==9.0.0" "toml==0.10.2"
    "ujson==5.10.0" "wheel==0.45.1" "docopt==0.6.2"
)
cli_deps_ok() {
    local spec
    for spec in "${AVMESOS_CLI_DEPS[@]}"; do
        [ "$(installed_version "${spec%%==*}")" = "${spec##*==}" ] || return 1
    done
}
if ! cli_deps_ok; then
    say "installing avmesos-cli's dependencies"
    # docopt has only an sdist; it is built with the venv's own setuptools
    # and the pinned wheel, installed first, so no unpinned build tools are
    # fetched.
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps \
        "${AVMESOS_CLI_DEPS[@]:0:${#AVMESOS_CLI_DEPS[@]}-1}" \
        || die "pip install ${AVMESOS_CLI_DEPS[*]:0:${#AVMESOS_CLI_DEPS[@]}-1} failed"
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
        "${AVMESOS_CLI_DEPS[-1]}" \
        || die "pip install ${AVMESOS_CLI_DEPS[-1]} failed"
fi
if [ "$(installed_version avmesos-cli)" != "$AVMESOS_CLI_VERSION" ]; then
    say "installing avmesos-cli==$AVMESOS_CLI_VERSION"
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps \
        "avmesos-cli==$AVMESOS_CLI_VERSION" \
        || die "pip install avmesos-cli==$AVMESOS_CLI_VERSION failed"
fi
"$PY" -c 'import avmesos.cli, avmesos.http, requests, tenacity, toml, ujson, docopt' \
    || die "'import avmesos.cli' fails in $VENV"

# 5. The descriptor oracle from mesos.scheduler's _scheduler.so.
sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

EXTRACTOR="$ROOT/tests/interop/extract_descriptors.py"
if [ ! -f "$ORACLE" ] || [ "$EXTRACTOR" -nt "$ORACLE" ]; then
    if [ ! -f "$CACHE/$SCHED_TARBALL" ] || [ "$(sha256_of "$CACHE/$SCHED_TARBALL")" != "$SCHED_SHA256" ]; then
        say "downloading $SCHED_TARBALL"
        rm -f "$CACHE/$SCHED_TARBALL.part"
        curl --fail --silent --show-error --location --retry 3 \
            -o "$CACHE/$SCHED_TARBALL.part" "$SCHED_URL" \
            || die "cannot download $SCHED_URL"
        got="$(sha256_of "$CACHE/$SCHED_TARBALL.part")"
        [ "$got" = "$SCHED_SHA256" ] \
            || die "$SCHED_TARBALL: sha256 $got, expected $SCHED_SHA256"
        mv "$CACHE/$SCHED_TARBALL.part" "$CACHE/$SCHED_TARBALL"
    fi
    say "extracting descriptors into $ORACLE"
    "$PY" "$EXTRACTOR" "$CACHE/$SCHED_TARBALL" "$ORACLE.tmp" >"$CACHE/extract.log" \
        || die "extract_descriptors.py failed (see $CACHE/extract.log)"
    mv "$ORACLE.tmp" "$ORACLE"
    say "$(tail -n 1 "$CACHE/extract.log")"
fi

say "ok: python $("$PY" -c 'import sys; print(sys.version.split()[0])'), protobuf $(installed_version protobuf), pymesos $(installed_version pymesos), avmesos-cli $(installed_version avmesos-cli), oracle $ORACLE"
