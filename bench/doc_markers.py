"""The tables that bench scripts write into docs/: the text between two HTML comment markers, replaced whole."""

from __future__ import annotations

from pathlib import Path


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    """`text` with what lies between `begin` and `end` replaced by `body` (on lines of its own)."""
    if begin not in text or end not in text:
        raise ValueError(f"the markers {begin!r} … {end!r} are missing")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{body.rstrip(chr(10))}\n{end}{rest.split(end, 1)[1]}"


def update_doc(path: str | Path, begin: str, end: str, body: str) -> None:
    """Rewrites the section of the Markdown file `path` between the markers."""
    path = Path(path)
    path.write_text(replace_between(path.read_text("utf-8"), begin, end, body), "utf-8")


def section(path: str | Path, begin: str, end: str) -> str:
    """What lies between the markers in `path`, without the surrounding newlines."""
    return Path(path).read_text("utf-8").split(begin, 1)[1].split(end, 1)[0].strip("\n")


def add_output_arguments(parser, work: Path, results: Path, doc: Path) -> None:
    """The flags every bench that renders a docs table takes: where it works, its JSON and its Markdown file."""
    parser.add_argument("--work", type=Path, default=work, help="models and data it makes (cached)")
    parser.add_argument("--results", type=Path, default=results)
    parser.add_argument("--doc", default=str(doc), help="Markdown file whose table to rewrite ('': none)")


def publish(results: dict, args, begin: str, end: str, render) -> None:
    """Writes `results` to ``args.results``, renders them into ``args.doc`` (unless empty) and prints the table."""
    import json

    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    text = render(results)
    if args.doc:
        update_doc(args.doc, begin, end, text)
    print(text)
