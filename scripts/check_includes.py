#!/usr/bin/env python3
"""check_includes.py BUILD_DIR [--source-dir DIR]

Checks that the include graph of Myriad's first-party code is its link graph
(STYLE.md: "the link graph is the architecture"). What the targets are comes
from CMake itself, read from the configured build tree BUILD_DIR:

  - which files each target compiles: the CMake file API (codemodel-v2 under
    BUILD_DIR/.cmake/api/v1/reply), which also tells add_dependencies()
    edges apart from links;
  - which targets each target links directly, and with which scope: the
    edges of `cmake --graphviz` (the items of target_link_libraries).

The script re-runs CMake's configure and generate steps on BUILD_DIR to get
both (about a second on a configured tree; nothing is rebuilt).

Who owns a file. A source (.cc, .cpp, .cu) belongs to every target that lists
it. A header belongs to
  1. the targets that list a source of the same name beside it (store.h goes
     with store.cc); else
  2. the targets whose files in the header's folder include it, directly or
     through other such headers; a library among them owns it alone (a test
     folder's fixture header goes with its helper library, a header-only
     helper of test programs with those programs); else
  3. the libraries of the nearest enclosing folder that has one
     (kernels/detail/ goes with kernels/). The walk stops at a folder with a
     CMakeLists.txt of its own: that folder names its own targets.
A file left without an owner is not built in this configuration (or belongs
to another project, such as tests/install/consumer) and is not checked.

The rule is CMake's own for usage requirements: a file of target T may
include a header of target U when
  a. U is T, or T links U directly (PUBLIC, PRIVATE or INTERFACE), or U is
     reached from such a link through PUBLIC/INTERFACE links only (CMake
     hands those include paths and flags to T); and
  b. U is not in a layer above T's (DESIGN.md: launcher > elastic >
     checkpoint > collectives > runtime > kernels; python, tests, benchmarks
     and examples are above every layer).
So that (a) means what the CMake files say, the scopes are checked too:
  c. every direct link between first-party targets is needed by at least one
     include of T (a link that no include needs is a dependency the layer
     does not have);
  d. a library (not a module: nothing links one) links U PUBLIC (or
     INTERFACE) only when one of its headers includes a header reached
     through that link, and PRIVATE when none does: PUBLIC is what lets T's
     consumers include U without linking it.
Includes inside #if count: the links must be right in every configuration.

Exit status: 0 when the tree follows the rule; 1 when it does not, with one
line per finding (file:line, the include, its target, why it is not
allowed, or the CMakeLists.txt of a link that is wrong); 2 when the build
tree cannot be read.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

# DESIGN.md's layers, lowest first. A folder not listed here (python, tests,
# benchmarks, examples) is above all of them.
LAYERS = ["kernels", "runtime", "collectives", "checkpoint", "elastic", "launcher"]
LAYER_ORDER = " > ".join(reversed(LAYERS))
SOURCE_EXTS = (".cc", ".cpp", ".cu")
HEADER_EXTS = (".h", ".hpp", ".cuh")
LIBRARY_TYPES = {"STATIC_LIBRARY", "SHARED_LIBRARY", "MODULE_LIBRARY", "OBJECT_LIBRARY"}
# Targets that other targets link, so that the scope of their links matters
# (a module, such as the Python extension, is loaded, never linked).
CONSUMED_TYPES = {"STATIC_LIBRARY", "SHARED_LIBRARY", "OBJECT_LIBRARY"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
PROJECT_RE = re.compile(r"^\s*project\s*\(", re.IGNORECASE | re.MULTILINE)


class BuildTreeError(Exception):
    pass


# ---------------------------------------------------------------------------
# What CMake says.


def run_cmake(build_dir, dot_path):
    """Re-runs CMake on build_dir: the file API reply is then fresh, and the
    graphviz file is written to dot_path."""
    query = os.path.join(build_dir, ".cmake", "api", "v1", "query")
    os.makedirs(query, exist_ok=True)
    # An empty file named codemodel-v2 is the file API's shared query.
    open(os.path.join(query, "codemodel-v2"), "a").close()
    result = subprocess.run(["cmake", "--graphviz=" + dot_path, build_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise BuildTreeError("`cmake --graphviz` failed:\n" + result.stdout)


def read_codemodel(build_dir):
    """Returns {target: {"type", "sources": [paths relative to the source
    root], "dir": the folder of its CMakeLists.txt, "utility": {targets it
    depends on through add_dependencies() only}}}."""
    reply = os.path.join(build_dir, ".cmake", "api", "v1", "reply")
    indexes = sorted(glob.glob(os.path.join(reply, "index-*.json")))
    if not indexes:
        raise BuildTreeError("no CMake file API reply in " + reply)
    with open(indexes[-1]) as f:
        index = json.load(f)
    codemodel = next((o["jsonFile"] for o in index.get("objects", [])
                      if o.get("kind") == "codemodel" and o.get("version", {}).get("major") == 2),
                     None)
    if codemodel is None:
        raise BuildTreeError("the file API reply in %s has no codemodel-v2" % reply)
    with open(os.path.join(reply, codemodel)) as f:
        model = json.load(f)
    targets = {}
    # One configuration: Ninja builds one, and sources and links here do not
    # depend on the build type.
    for entry in model["configurations"][0]["targets"]:
        with open(os.path.join(reply, entry["jsonFile"])) as f:
            target = json.load(f)
        sources = [s["path"] for s in target.get("sources", [])
                   if not s.get("isGenerated") and not os.path.isabs(s["path"])]
        graph = target.get("backtraceGraph", {"nodes": [], "commands": []})
        utility = set()
        for dep in target.get("dependencies", []):
            node = graph["nodes"][dep["backtrace"]] if "backtrace" in dep else {}
            if "command" in node and graph["commands"][node["command"]] == "add_dependencies":
                utility.add(dep["id"].split("::@", 1)[0])
        targets[target["name"]] = {"type": target["type"], "sources": sources,
                                   "dir": target["paths"]["source"], "utility": utility}
    return targets


NODE_RE = re.compile(r'^\s*"(node\d+)"\s*\[\s*label\s*=\s*"([^"]*)"')
EDGE_RE = re.compile(r'^\s*"(node\d+)"\s*->\s*"(node\d+)"(?:\s*\[\s*style\s*=\s*(\w+))?')
# CMake's graphviz legend: no style is PUBLIC, dashed INTERFACE, dotted PRIVATE.
STYLE_SCOPE = {None: "PUBLIC", "dashed": "INTERFACE", "dotted": "PRIVATE"}


def read_links(dot_path):
    """Returns {target: {target it links directly: PUBLIC|PRIVATE|INTERFACE}}."""
    labels, edges = {}, []
    with open(dot_path) as f:
        for line in f:
            node = NODE_RE.match(line)
            if node:
                # The label is the name, then "\n(Alias::name)" per alias.
                labels[node.group(1)] = node.group(2).split("\\n", 1)[0]
                continue
            edge = EDGE_RE.match(line)
            if edge:
                edges.append(edge.groups())
    links = {}
    for a, b, style in edges:
        links.setdefault(labels[a], {})[labels[b]] = STYLE_SCOPE.get(style, "PUBLIC")
    return links


# ---------------------------------------------------------------------------
# What the sources say.


def first_party_files(root):
    """The C++ files of the project at root, relative to it; build trees and
    folders of other projects (a CMakeLists.txt with its own project()) are
    left out."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        kept = []
        for d in sorted(dirnames):
            path = os.path.join(dirpath, d)
            if d.startswith(".") or os.path.isfile(os.path.join(path, "CMakeCache.txt")):
                continue
            lists = os.path.join(path, "CMakeLists.txt")
            if os.path.isfile(lists):
                with open(lists, errors="replace") as f:
                    if PROJECT_RE.search(f.read()):
                        continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if name.endswith(SOURCE_EXTS + HEADER_EXTS):
                files.append(os.path.relpath(os.path.join(dirpath, name), root))
    return files


def parse_includes(root, rel):
    """Yields (line number, include as spelled, path relative to root) for
    each include of rel that names a file of the tree."""
    folder = os.path.dirname(rel)
    with open(os.path.join(root, rel), errors="replace") as f:
        for number, line in enumerate(f, 1):
            match = INCLUDE_RE.match(line)
            if not match:
                continue
            quote, spelled = match.groups()
            # "x.h" is looked up beside the includer first, then from the
            # root (the include directory of every first-party target);
            # <x.h> from the root only.
            candidates = ([os.path.join(folder, spelled)] if quote == '"' else []) + [spelled]
            for candidate in candidates:
                candidate = os.path.normpath(candidate)
                if not candidate.startswith("..") and os.path.isfile(os.path.join(root, candidate)):
                    yield number, quote + spelled + (">" if quote == "<" else '"'), candidate
                    break


def layer_of(rel):
    top = rel.split("/", 1)[0]
    return LAYERS.index(top) if top in LAYERS else len(LAYERS)


def top_folder(rel):
    return rel.split("/", 1)[0] + "/"


def names(targets):
    return ", ".join(sorted(targets)) or "nothing of the project's"


# ---------------------------------------------------------------------------
# The check.


class Checker:
    def __init__(self, root, targets, links):
        self.root = root
        self.targets = targets
        self.files = first_party_files(root)
        self.includes = {rel: list(parse_includes(root, rel)) for rel in self.files}
        self.owners = {}
        for name, target in targets.items():
            for src in target["sources"]:
                if src.endswith(SOURCE_EXTS) and src in self.includes:
                    self.owners.setdefault(src, set()).add(name)
        # First-party targets: those that compile a file of the tree.
        self.first_party = {t for owners in self.owners.values() for t in owners}
        # Links between first-party libraries; an edge to an executable, or
        # one that add_dependencies() made, orders the build and links nothing.
        self.links = {t: {u: scope for u, scope in links.get(t, {}).items()
                          if u in self.first_party and targets[u]["type"] in LIBRARY_TYPES
                          and u not in targets[t]["utility"]}
                      for t in self.first_party}
        self.assign_headers()

    def is_library(self, target):
        return self.targets[target]["type"] in LIBRARY_TYPES

    def assign_headers(self):
        by_stem = {}
        for src, owners in self.owners.items():
            by_stem.setdefault(os.path.splitext(src)[0], set()).update(owners)
        pending = []
        for header in (f for f in self.files if f.endswith(HEADER_EXTS)):
            owners = by_stem.get(os.path.splitext(header)[0])
            if owners:
                self.owners[header] = set(owners)
            else:
                pending.append(header)
        # Each round settles at least one more level of header-includes-
        # header, so there are at most as many rounds as pending headers.
        changed, rounds = True, 0
        while changed and rounds <= len(pending):
            changed, rounds = False, rounds + 1
            for header in pending:
                folder = os.path.dirname(header)
                owners = set()
                for rel, includes in self.includes.items():
                    if (rel != header and os.path.dirname(rel) == folder and rel in self.owners
                            and any(inc == header for _, _, inc in includes)):
                        owners |= self.owners[rel]
                owners = {t for t in owners if self.is_library(t)} or owners
                if owners and owners != self.owners.get(header):
                    self.owners[header] = owners
                    changed = True
        for header in pending:
            if header not in self.owners:
                owners = self.enclosing_libraries(os.path.dirname(header))
                if owners:
                    self.owners[header] = owners

    def enclosing_libraries(self, folder):
        while True:
            libraries = {t for t in self.first_party if self.is_library(t)
                         and any(os.path.dirname(s) == folder for s in self.targets[t]["sources"])}
            if libraries:
                return libraries
            if folder == "" or os.path.isfile(os.path.join(self.root, folder, "CMakeLists.txt")):
                return set()
            folder = os.path.dirname(folder)

    def public_closure(self, target):
        """`target` and what its consumers see through its PUBLIC and
        INTERFACE links, transitively."""
        seen, todo = {target}, [target]
        while todo:
            for u, scope in self.links[todo.pop()].items():
                if scope != "PRIVATE" and u not in seen:
                    seen.add(u)
                    todo.append(u)
        return seen

    def providers(self, target, owners):
        """The direct links of `target` that let it include a header owned by
        `owners`: a link to an owner, else the links whose public closure
        holds one."""
        direct = owners & set(self.links[target])
        if direct:
            return direct
        return {link for link in self.links[target] if owners & self.public_closure(link)}

    def cmake_file(self, target):
        folder = self.targets[target]["dir"]
        return "CMakeLists.txt" if folder in ("", ".") else folder + "/CMakeLists.txt"

    def check(self):
        findings = []
        used = {t: set() for t in self.first_party}
        exposed = {t: {} for t in self.first_party}
        edges = set()
        for rel in self.files:
            for target in sorted(self.owners.get(rel, ())):
                for line, spelled, inc in self.includes[rel]:
                    owners = self.owners.get(inc)
                    if not owners or target in owners:
                        continue
                    where = "%s:%d: #include %s: %s belongs to %s" % (rel, line, spelled, inc,
                                                                       names(owners))
                    if layer_of(rel) < layer_of(inc):
                        findings.append("%s, in %s, a layer above %s (%s's layer; DESIGN.md: %s)"
                                        % (where, top_folder(inc), top_folder(rel), target,
                                           LAYER_ORDER))
                        continue
                    providers = self.providers(target, owners)
                    if not providers:
                        findings.append("%s, which %s does not link (%s links: %s)"
                                        % (where, target, self.cmake_file(target),
                                           names(self.links[target])))
                        continue
                    used[target] |= providers
                    edges |= {(target, owner) for owner in owners}
                    if rel.endswith(HEADER_EXTS):
                        for provider in providers:
                            exposed[target].setdefault(provider, "%s:%d" % (rel, line))
        for target in sorted(self.first_party):
            lists = self.cmake_file(target)
            for link, scope in sorted(self.links[target].items()):
                if link not in used[target]:
                    findings.append("%s: %s links %s, but no file of %s includes a header of it "
                                    "(a link that no include needs)" % (lists, target, link, target))
                elif self.targets[target]["type"] not in CONSUMED_TYPES:
                    continue
                elif scope == "PRIVATE" and link in exposed[target]:
                    findings.append("%s: %s links %s PRIVATE, but its header %s includes a header "
                                    "of it (PUBLIC: its consumers need it)"
                                    % (lists, target, link, exposed[target][link]))
                elif scope != "PRIVATE" and link not in exposed[target]:
                    findings.append("%s: %s links %s %s, but none of its headers includes a header "
                                    "of it (PRIVATE: its consumers do not need it)"
                                    % (lists, target, link, scope))
        return findings, edges


def read_source_dir(build_dir):
    cache = os.path.join(build_dir, "CMakeCache.txt")
    with open(cache) as f:
        for line in f:
            if line.startswith("CMAKE_HOME_DIRECTORY:"):
                return line.split("=", 1)[1].strip()
    raise BuildTreeError(cache + " names no CMAKE_HOME_DIRECTORY")


def main():
    parser = argparse.ArgumentParser(
        description="Checks that the include graph is the link graph (see the script's header).")
    parser.add_argument("build_dir", help="a configured CMake build tree of the project")
    parser.add_argument("--source-dir", help="its source tree (default: the one it was configured from)")
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    try:
        root = os.path.abspath(args.source_dir or read_source_dir(build_dir))
        with tempfile.TemporaryDirectory(prefix="check_includes.") as scratch:
            dot = os.path.join(scratch, "links.dot")
            run_cmake(build_dir, dot)
            links = read_links(dot)
        targets = read_codemodel(build_dir)
    except (BuildTreeError, OSError, ValueError, KeyError, IndexError) as e:
        print("check_includes: cannot read the build tree %s: %s" % (build_dir, e), file=sys.stderr)
        return 2
    checker = Checker(root, targets, links)
    findings, edges = checker.check()
    for finding in findings:
        print(finding)
    unowned = sum(1 for f in checker.files if f not in checker.owners)
    summary = ("%d files of %d targets, %d include edges between targets over %d direct links; "
               "%d files not built in this configuration"
               % (len(checker.owners), len(checker.first_party), len(edges),
                  sum(len(v) for v in checker.links.values()), unowned))
    if findings:
        print("check_includes: FAILED, %d findings (%s)" % (len(findings), summary))
        return 1
    print("check_includes: OK (%s)" % summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
