"""Runs Apache's `mesos` CLI as published on PyPI (avmesos-cli 1.0.0,
installed by scripts/setup-python.sh), unchanged, with its arguments:

    .venv/bin/python tests/interop/avmesos_cli.py task exec TASK -- CMD

The CLI reads its master address from the TOML file named by
MESOS_CLI_CONFIG ([master] address = "HOST:PORT").

The wheel's avmesos/cli/mesos.py refers to the name `mesos` (upstream's
`mesos` HTTP library, which the wheel ships renamed as `avmesos`) without
importing it, so `task exec` and `task attach` fail with a NameError
against any Mesos. The name is provided here, as a builtin, rather than by
editing the installed package.
"""

import builtins
import runpy

import avmesos

builtins.mesos = avmesos
runpy.run_module("avmesos.cli.mesos-cli", run_name="__main__", alter_sys=True)
