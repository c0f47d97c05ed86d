"""README.md and docs/*.md cannot drift from the code, the CLI and the results they quote (rules: tests/doc_facts.py).

Generated blocks equal their rendering; every measured figure names a results/log file that holds it; shapes are
the export's; every CLI option a page names exists and every option of a command is on its page; every command in a
```sh block of the README parses; every path a page names exists; the supported versions are stated once.
"""

import argparse
import ast
import re
import shlex
import sys
import subprocess
from pathlib import Path

import pytest

import doc_facts
from doc_facts import DOCS, REPO

PAGES = [p for p in DOCS if p.is_file()]
IDS = [str(p.relative_to(REPO)) for p in PAGES]


@pytest.fixture(scope="module")
def commands():
    """``enet-edge`` subcommand -> its argparse parser (built as the CLI builds it)."""
    from enet_edge.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **sub.choices}


def options(parser) -> dict:
    """option string -> its action."""
    return {s: a for a in parser._actions for s in a.option_strings}


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_generated_blocks_are_current(path):
    text = path.read_text()
    assert doc_facts.regenerate(text) == text, \
        f"{path.name}: a generated block differs from its source; run `make docs` (python tests/doc_facts.py --write)"


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_measured_figures_name_their_source_and_match_it(path):
    problems = doc_facts.figure_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_shapes_are_the_exports(path):
    problems = doc_facts.shape_problems(path)
    assert not problems, "\n".join(problems)


def test_the_figure_check_catches_a_wrong_or_unsourced_figure(tmp_path, monkeypatch):
    """The checker itself: a figure its source does not hold, one with no source, and goals that are not figures."""
    card = "weights/enet_camvid.json"
    doc = tmp_path / "page.md"
    doc.write_text(f"Held out: 66.41% (`{card}`).\n\nHeld out: 67.41% (`{card}`).\n\n"
                   "It runs 11.5 ms.\n\nThe goal is <= 300 MiB and at most 150 stages.\n")
    monkeypatch.setattr(doc_facts, "_rel", lambda p: p.name)
    problems = doc_facts.figure_problems(doc)
    assert len(problems) == 2, problems
    assert "'67.41%' is not in" in problems[0]
    assert "'11.5 ms' names no source file" in problems[1]


# ---- the CLI --------------------------------------------------------------------------------------------------------

PAGE_OF = {"export": "export.md", "check": "export.md", "eval": "eval.md", "bench": "bench.md", "demo": "demo.md",
           "train": "training.md", "runs": "training.md", "import": "import.md"}
INVOCATION = re.compile(r"^(?:\$ )?enet-edge (?P<sub>[a-z]+)(?P<rest>[^`\n]*)")


def invocations(text: str):
    """(line number, subcommand, the rest of the command) for every ``enet-edge SUB ...`` of a page: inline code
    spans and code-block lines (continuations joined, comments cut)."""
    lines = text.splitlines()
    fenced = False
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            joined, k = line, number
            while joined.endswith("\\") and k < len(lines):
                joined = joined[:-1] + " " + lines[k]
                k += 1
            joined = re.sub(r"\s#.*$", "", joined)
            m = INVOCATION.match(joined.strip())
            if m:
                yield number, m.group("sub"), m.group("rest")
        else:
            for span in re.findall(r"`([^`]+)`", line):
                m = INVOCATION.match(span)
                if m:
                    yield number, m.group("sub"), m.group("rest")


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_every_option_a_page_names_exists(path, commands):
    problems = []
    for number, sub, rest in invocations(path.read_text()):
        if sub not in commands:
            problems.append(f"{path.name}:{number}: `enet-edge {sub}` is no command ({', '.join(commands)})")
            continue
        parser = commands[sub]
        nested = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        words = rest.split()
        if nested is not None and words and words[0] in nested.choices:
            parser = nested.choices[words[0]]
        known = options(parser)
        for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", rest):
            if flag not in known:
                problems.append(f"{path.name}:{number}: `enet-edge {sub}` has no option {flag}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("sub", sorted(PAGE_OF))
def test_every_option_and_choice_is_on_the_commands_page(sub, commands):
    page = (REPO / "docs" / PAGE_OF[sub]).read_text()
    missing = []
    for action in commands[sub]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or "-h" in action.option_strings:
            continue
        long = [s for s in action.option_strings if s.startswith("--")] or action.option_strings
        if not any(re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", page) for s in action.option_strings):
            missing.append(long[0])
        for choice in action.choices or ():
            if isinstance(choice, str) and not re.search(rf"(?<![\w-]){re.escape(choice)}(?![\w-])", page):
                missing.append(f"{long[0]} {choice}")
    assert not missing, f"docs/{PAGE_OF[sub]} does not mention: {', '.join(missing)}"


def test_errors_page_covers_every_command(commands):
    page = (REPO / "docs" / "errors.md").read_text()
    missing = [sub for sub in commands if sub and not re.search(rf"`(enet-edge )?{sub}`", page)]
    assert not missing, f"docs/errors.md does not cover: {missing}"


def _sh_blocks(text: str):
    for m in re.finditer(r"```sh\n(.*?)```", text, re.DOTALL):
        start = text[: m.start()].count("\n") + 2
        yield from ((start + i, line) for i, line in enumerate(m.group(1).replace("\\\n", " ").splitlines()))


def test_every_readme_command_parses(commands):
    """Each command line of the README's ```sh blocks: enet-edge ones parse as the CLI parses them, make targets and
    variables exist, and the files other commands name are in the repository."""
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    problems = []
    for number, line in _sh_blocks((REPO / "README.md").read_text()):
        command = re.sub(r"\s+#.*$", "", line).strip()
        if not command or command.startswith("#"):
            continue
        for part in re.split(r"\s*&&\s*", command):
            words = shlex.split(part)
            if words[0] == "enet-edge":
                try:
                    commands[""].parse_args(words[1:])
                except SystemExit:
                    problems.append(f"README.md:{number}: `{part}` does not parse")
            elif words[0] == "make":
                for word in words[1:]:
                    name = word.split("=", 1)[0]
                    if "=" in word and not re.search(rf"\$\({name}\)", makefile):
                        problems.append(f"README.md:{number}: the Makefile has no variable {name}")
                    elif "=" not in word and word not in targets:
                        problems.append(f"README.md:{number}: the Makefile has no target {word}")
            else:
                for word in words:
                    if re.fullmatch(r"[\w-]+\.(txt|toml|py)", word) and not (REPO / word).is_file():
                        problems.append(f"README.md:{number}: {word} is not in the repository")
    assert not problems, "\n".join(problems)


# ---- paths and modules ----------------------------------------------------------------------------------------------

PATH = re.compile(r"`((?:enet_edge|tests|docs|export|benchmarks|weights|demo|runs|\.ci)/[\w./-]*)(?::(\w+))?`")
LINK = re.compile(r"\]\(((?!https?:|#|mailto:)[^)#\s]+)")
MODULE = re.compile(r"`(enet_edge(?:\.\w+)+)")


def _module_names(dotted: str):
    """(file, remaining attribute names) for the longest module prefix of ``dotted`` that is a file here."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:k])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, parts[k:]
    return None, parts


def _defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.ImportFrom, ast.Import)) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_every_path_and_module_a_page_names_exists(path):
    text = path.read_text()
    problems = []
    for rel, name in PATH.findall(text):
        if not any(c in rel for c in "<*{") and not (REPO / rel.rstrip("/")).exists():
            problems.append(f"{path.name}: `{rel}` does not exist")
        elif name and rel.endswith(".py") and not _defines(REPO / rel, name):
            problems.append(f"{path.name}: `{rel}:{name}`: {rel} defines no {name}")
    for link in LINK.findall(text):
        if not (path.parent / link).exists():
            problems.append(f"{path.name}: link ({link}) does not exist")
    for dotted in MODULE.findall(text):
        module, rest = _module_names(dotted)
        if module is None:
            problems.append(f"{path.name}: `{dotted}` is no module")
        elif rest and not _defines(module, rest[0]):
            problems.append(f"{path.name}: `{dotted}`: {module.relative_to(REPO)} defines no {rest[0]}")
    assert not problems, "\n".join(problems)


# ---- versions ---------------------------------------------------------------------------------------------------------

VERSION_RANGE = re.compile(r"Python \*{0,2}3\.\d+\s?(?:[–-]|or|and|/)\s?3\.\d+")


def test_supported_versions_are_stated_once():
    """Python ranges per route live in README's "Supported versions" table; every other page refers to it."""
    stated = [(p.name, m.group(0)) for p in PAGES for m in VERSION_RANGE.finditer(
        doc_facts._strip_generated(p.read_text()))]
    readme = (REPO / "README.md").read_text()
    table = readme.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    outside = [(name, s) for name, s in stated if not (name == "README.md" and s in table)]
    assert not outside, f"Python version ranges outside README's Supported versions table: {outside}"


def test_the_docs_generator_runs(tmp_path):
    done = subprocess.run([sys.executable, "tests/doc_facts.py"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "--write" in done.stdout


def test_the_wheel_the_docs_name_is_the_one_make_wheel_builds():
    """`make wheel` writes dist/enet_edge-<version>-py3-none-any.whl; every page that names a wheel names that one."""
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    wanted = f"enet_edge-{version}-py3-none-any.whl"
    named = {(p.name, w) for p in PAGES for w in re.findall(r"enet_edge-[\w.]+-py3-none-any\.whl", p.read_text())}
    assert named and all(w == wanted for _, w in named), (wanted, sorted(named))
    assert re.search(r"^wheel:", (REPO / "Makefile").read_text(), re.MULTILINE)
