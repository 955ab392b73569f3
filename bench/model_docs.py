"""Write docs/models/NAME.md for every shelf model from its card, and print the README's compact
model table: the cards are the one source, so docs and weights never disagree.

    .venv/bin/python bench/model_docs.py            # writes docs/models/, prints the table
    .venv/bin/python bench/model_docs.py --check    # exit 1 if docs/models/ is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DOCS = REPO / "docs" / "models"


def model_page(info, size_mb: float) -> str:
    """One model's page: the card the Models tab shows (one rendering of it, so the two never
    disagree), its headline figure, size and picture."""
    from genstudio.card import headline
    from genstudio.ui.tabs.models import model_card_markdown

    lines = [
        model_card_markdown(info.name).replace(f"### {info.name}", f"# {info.name}", 1),
        "",
        f"**Headline:** {headline(info.card)}; file {size_mb:.1f} MB.",
    ]
    if (REPO / "assets" / "models" / f"{info.name}.png").exists():
        lines += ["", f"![{info.name}](../../assets/models/{info.name}.png)"]
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    from genstudio import registry

    out = {}
    for info in registry.list_models():
        path = registry.checkpoint_path(info.name)
        out[f"{info.name}.md"] = model_page(info, path.stat().st_size / 1e6)
    return out


def table() -> str:
    from genstudio import registry
    from genstudio.card import headline

    rows = ["| model | task | headline (`genstudio eval NAME`) | size |", "|---|---|---|---|"]
    for info in registry.list_models():
        size = registry.checkpoint_path(info.name).stat().st_size / 1e6
        rows.append(
            f"| [`{info.name}`](docs/models/{info.name}.md) | {info.task} | {headline(info.card)} | {size:.1f} MB |"
        )
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    expected = pages()
    if "--check" in argv:
        stale = [
            name for name, text in expected.items() if not (DOCS / name).exists() or (DOCS / name).read_text() != text
        ]
        extra = sorted(p.name for p in DOCS.glob("*.md") if p.name not in expected) if DOCS.exists() else []
        if stale or extra:
            print(f"docs/models is out of date: {', '.join(stale + extra)}; run bench/model_docs.py")
            return 1
        return 0
    DOCS.mkdir(parents=True, exist_ok=True)
    for stale in DOCS.glob("*.md"):
        if stale.name not in expected:
            stale.unlink()
    for name, text in expected.items():
        (DOCS / name).write_text(text)
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
