"""Write docs/models/NAME.md for every shelf model from its card, and print the README's compact
model table: the cards are the one source, so docs and weights never disagree.

    .venv/bin/python bench/model_docs.py            # writes docs/models/, prints the table
    .venv/bin/python bench/model_docs.py --check    # exit 1 if docs/models/ is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DOCS = REPO / "docs" / "models"


def model_page(info, params_m: float, size_mb: float) -> str:
    """One model's page: what it is, how it was made, every figure its card holds."""
    from genstudio.card import earlier_stages, headline

    c, p = info.card, info.card.get("provenance", {})
    lines = [
        f"# {info.name}",
        "",
        c.get("description", ""),
        "",
        "| field | value |",
        "|---|---|",
        f"| task | {c.get('task')} |",
        f"| architecture | `{info.arch}` ({params_m:.2f} M parameters, {size_mb:.1f} MB) |",
        f"| dataset | {c.get('dataset')} |",
    ]
    for key in ("labels", "styles"):
        if c.get(key):
            lines.append(f"| {key} | {', '.join(c[key])} |")
    if c.get("names"):
        lines.append(f"| emoji it draws by name | {len(c['names']):,} |")
    if c.get("split"):
        lines.append(f"| split | {c['split']} |")
    if c.get("sampling"):
        lines.append(f"| default sampling | {json.dumps(c['sampling'])} |")
    if c.get("credits"):
        lines.append(f"| credits | {c['credits']} |")
    if p.get("steps"):
        lines.append(
            f"| trained | {p['steps']} steps, {p.get('wall_time_minutes')} min on {p.get('device')} "
            f"({p.get('torch_threads')} threads, {p.get('precision', 'fp32')}), "
            f"commit `{(p.get('git_commit') or '')[:10]}` |"
        )
    if c.get("recipe"):
        lines.append(f"| recipe | `configs/recipes/{c['recipe']}.toml` (`genstudio reproduce {info.name}`) |")
    stages = earlier_stages(c)
    for i, stage in enumerate(stages, 1):
        lines.append(
            f"| stage {i} | `{stage.get('model')}`: {stage.get('steps')} steps, {stage.get('wall_time_minutes')} min |"
        )
    if stages:
        total = (p.get("wall_time_minutes") or 0) + sum(s.get("wall_time_minutes") or 0 for s in stages)
        lines.append(f"| CPU in all | {total:.0f} min |")
    lines += [
        "",
        f"**Headline:** {headline(c)}",
        "",
        "## Figures",
        "",
        f"Measured by `genstudio eval {info.name}` on a 2-core CPU and stored in the card.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [
        f"| {k} | {json.dumps(v) if isinstance(v, (dict, list)) else v} |" for k, v in c.get("metrics", {}).items()
    ]
    if (REPO / "assets" / "models" / f"{info.name}.png").exists():
        lines += ["", f"![{info.name}](../../assets/models/{info.name}.png)"]
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    from genstudio import registry

    out = {}
    for info in registry.list_models():
        path = registry.checkpoint_path(info.name)
        out[f"{info.name}.md"] = model_page(info, registry.parameter_count(info.name) / 1e6, path.stat().st_size / 1e6)
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
