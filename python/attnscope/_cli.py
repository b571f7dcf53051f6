"""The `attnscope` command of a pip-installed package: runs the command-line program built with
the extension (attnscope/_bin/attnscope) with the same arguments, and exits with its status."""

import os
import pathlib
import sys


def main():
    exe = pathlib.Path(__file__).resolve().parent / "_bin" / "attnscope"
    if not exe.is_file():
        sys.exit(f"attnscope: the command-line program is not in {exe.parent}; reinstall the package")
    os.execv(str(exe), [str(exe), *sys.argv[1:]])
