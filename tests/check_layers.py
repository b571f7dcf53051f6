#!/usr/bin/env python3
"""Checks that every #include points down the layers.

The layer table is the one CMakeLists.txt builds the libraries from (written to
<build>/layers.txt: "<layer> depends=<lower,...> headers=<public headers>"). A file in
src/<layer>/ may include its own layer's headers and those of the layers below it (the transitive
closure of `depends`); a public header include/attnscope/<h> counts as its layer's; the front ends
(src/cli, python/src) include public headers and their own only. The linker already refuses a
call up the layers; this catches the edges it cannot see (types and inline code in headers).

Usage: check_layers.py <layers.txt> <source dir>; exit status 1 listing every wrong edge.
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_layers(path):
    depends, owner = {}, {}
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.strip():
            continue
        name, *fields = line.split()
        values = dict(f.split("=", 1) for f in fields)
        depends[name] = [d for d in values.get("depends", "").split(",") if d]
        for h in values.get("headers", "").split(","):
            if h:
                owner["attnscope/" + h] = name
    return depends, owner


def below(layer, depends):
    """The layers `layer` may include: itself and everything it depends on, transitively."""
    seen, todo = {layer}, [layer]
    while todo:
        for d in depends[todo.pop()]:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def layer_of_include(inc, depends, owner):
    if inc in owner:
        return owner[inc]
    top = inc.split("/", 1)[0]
    return top if top in depends else None


def main():
    depends, owner = read_layers(sys.argv[1])
    root = pathlib.Path(sys.argv[2])
    errors = []
    public = root / "include" / "attnscope"
    for h in sorted(public.glob("*.h")):
        if "attnscope/" + h.name not in owner:
            errors.append(f"include/attnscope/{h.name}: no layer lists it (CMakeLists.txt attnscope_layer HEADERS)")
    files = [(p, layer) for layer in depends for p in (root / "src" / layer).glob("*.[ch]*")]
    files += [(p, owner["attnscope/" + p.name]) for p in public.glob("*.h") if "attnscope/" + p.name in owner]
    front_ends = [(p, None) for d in ("src/cli", "python/src") for p in (root / d).glob("*.[ch]*")]
    for path, layer in files + front_ends:
        own = path.parent.name
        for inc in INCLUDE.findall(path.read_text(errors="replace")):
            target = layer_of_include(inc, depends, owner)
            rel = path.relative_to(root)
            if layer is None:  # a front end: public headers and its own folder's
                if "/" in inc and inc.split("/", 1)[0] not in ("attnscope", own):
                    errors.append(f"{rel}: includes the library's private header {inc}")
            elif target is not None and target not in below(layer, depends):
                errors.append(f"{rel} ({layer}): includes {inc} of the higher layer {target}")
            elif inc.split("/", 1)[0] == "cli":
                errors.append(f"{rel} ({layer}): includes the command line's {inc}")
    for e in errors:
        print(e)
    print(f"{len(files) + len(front_ends)} files, {len(errors)} include edges up the layers")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
