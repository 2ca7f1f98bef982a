#!/usr/bin/env bash
# Prints the path of ProbLog 2.3's command, installing it (PyPI `problog`,
# with `pysdd`) into target/problog-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/problog-venv
if [ ! -x "$venv/bin/problog" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet problog pysdd >&2
fi
echo "$venv/bin/problog"
