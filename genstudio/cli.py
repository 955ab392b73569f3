"""The `genstudio` command: the same task functions the UI calls.

Examples:
    genstudio models --json
    genstudio sample --model cgan-fmnist --n 16 --seed 7 --label Sneaker --output sneakers.png
    genstudio sample --model emoji-gan --label "Food & Drink" --style twemoji --n 64 --seed 0 --output grid.png
    genstudio upscale --model sr-x4 --input photo.png --output photo_x4.png
    genstudio inpaint --model inpaint-photo --input photos/ --mask masks/ --output filled/
    genstudio outpaint --model inpaint-photo --input photo.png --extend 64,0,64,0 --output wider.png
    genstudio walk --model gan-fmnist --seeds 1,5,9-12 --frames-per-transition 30 --fps 30 --loop --output walk.mp4
    genstudio reproduce sr-x2                  (its recipe's stages into runs/, then promoted)
    genstudio reproduce emoji-gan --scale 0.01 --run-dir /tmp/runs --no-eval
    genstudio train configs/stages/sr-x2.toml --set train.steps=2000   (one stage, into runs/sr-x2/)
    genstudio train configs/stages/sr-x2.toml --resume
    genstudio promote runs/sr-x2
    genstudio eval sr-x2
    genstudio serve --port 7860 --share
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genstudio.data import IMAGE_SUFFIXES
from genstudio.errors import UserError

BACKGROUNDS = {"white": 255, "black": 0}  # videos have no alpha: transparent images go on a solid colour


def cmd_models(args) -> int:
    from genstudio import registry

    infos = registry.list_models(include_unavailable=True)
    if args.json:
        print(json.dumps([i.summary() for i in infos], indent=2))
        return 0
    for info in infos:
        if info.error:
            print(f"{info.name:20s} UNAVAILABLE: {info.error}")
        else:
            s = info.summary()
            extra = f"x{s['scale']}" if s["scale"] else (f"{len(s['labels'])} labels" if s["labels"] else "")
            print(f"{info.name:20s} {s['task']:12s} {s['arch']:22s} {s['dataset'] or '':28s} {extra}")
    return 0


SAMPLE_SETTINGS = ("model", "n", "seed", "label", "style", "truncation", "temperature")


def _recipe_settings(source: str | None) -> dict:
    """The sample settings of a recipe: a PNG's (app or CLI) or a link's."""
    if not source:
        return {}
    from genstudio.tasks.io import read_recipe, recipe_from_query

    if Path(source).is_file():
        try:
            recipe = read_recipe(source)
        except (OSError, SyntaxError, ValueError) as exc:
            raise UserError(f"--recipe {source}: not an image made by GenStudio") from exc
    else:
        recipe = recipe_from_query(source)
    if not recipe or recipe.get("task") not in ("sample", "conditional"):
        raise UserError(f"--recipe {source}: holds no sample or label-conditioned recipe")
    if recipe["task"] == "conditional" and (
        recipe.get("mode", "one class") != "one class" or recipe.get("label") is None
    ):
        raise UserError(
            f"--recipe {source}: a {recipe.get('mode', 'all classes')!r} grid; `genstudio sample` remakes "
            "one-class grids (use the app for this one)"
        )
    # a recipe without a truncation was made without one (as the app reopens it), whatever the model's own is now
    return {"truncation": 0.0, **{k: recipe[k] for k in SAMPLE_SETTINGS if recipe.get(k) is not None}}


def cmd_sample(args) -> int:
    import numpy as np

    from genstudio import registry
    from genstudio.kinds import kind_of
    from genstudio.tasks.generate import resolve_label, resolve_style, sample
    from genstudio.tasks.images import grid
    from genstudio.tasks.io import make_recipe, save_png

    settings = {
        "n": 16,
        "seed": 0,
        **_recipe_settings(args.recipe),
        **{k: v for k, v in vars(args).items() if k in SAMPLE_SETTINGS and v is not None},
    }
    if not settings.get("model"):
        raise UserError("give --model (or a --recipe that names one)")
    args = argparse.Namespace(**{**vars(args), **settings})
    model = registry.load(args.model)
    latent = kind_of(model).latent_settings(args.truncation, args.temperature)
    images = sample(model, args.n, args.seed, label=args.label, style=args.style, **latent)
    out = Path(args.output)
    recipe = make_recipe(
        "sample", model=args.model, n=args.n, seed=args.seed, label=args.label, style=args.style, **latent
    )
    if out.suffix.lower() == ".npz":
        extra = {}
        if model.task == "conditional" and args.label is not None:
            extra["labels"] = np.full(len(images), resolve_label(model, args.label), dtype=np.int64)
        if model.styles and args.style is not None:
            extra["styles"] = np.full(len(images), resolve_style(model, args.style), dtype=np.int64)
        np.savez_compressed(out, images=images, recipe=json.dumps(recipe), **extra)
    elif out.suffix.lower() == ".png":
        save_png(grid(images, fill=0 if images.shape[-1] == 4 else 255), out, recipe)  # transparent gaps for RGBA
    else:
        raise UserError("--output must end in .png (a grid) or .npz (the images)")
    print(f"wrote {out}")
    return 0


def _pairs(input_path: str, output_path: str, mask_path: str | None = None):
    """(input, output, mask) file triples: one file, or every image of a folder."""
    src, dst = Path(input_path), Path(output_path)
    if not src.exists():
        raise UserError(f"{src} does not exist")
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"no images in {src}")
        dst.mkdir(parents=True, exist_ok=True)
        masks = Path(mask_path) if mask_path else None
        out = []
        for f in files:
            m = None
            if masks is not None:
                candidates = (
                    [masks / f.name] + [masks / (f.stem + s) for s in IMAGE_SUFFIXES] if masks.is_dir() else [masks]
                )
                m = next((c for c in candidates if c.exists()), None)
                if m is None:
                    raise UserError(f"no mask for {f.name} in {masks}")
            out.append((f, dst / (f.stem + ".png"), m))
        return out
    return [(src, dst, Path(mask_path) if mask_path else None)]


def cmd_upscale(args) -> int:
    from tqdm import tqdm

    from genstudio import registry
    from genstudio.tasks.io import make_recipe, read_image, save_png
    from genstudio.tasks.upscale import upscale_array

    model = registry.load(args.model)
    pairs = _pairs(args.input, args.output)
    for src, dst, _ in tqdm(pairs, disable=len(pairs) == 1, desc="upscale"):
        out = upscale_array(read_image(src), model, tile=args.tile)
        save_png(out, dst, make_recipe("upscale", model=args.model, input=src.name, tile=args.tile))
    print(f"wrote {len(pairs)} image(s) to {args.output}")
    return 0


def cmd_inpaint(args) -> int:
    from tqdm import tqdm

    from genstudio import registry
    from genstudio.tasks.inpaint import BASELINES, inpaint
    from genstudio.tasks.io import make_recipe, read_image, save_png

    method = args.model if args.model in BASELINES else registry.load(args.model)
    pairs = _pairs(args.input, args.output, args.mask)
    for src, dst, mask in tqdm(pairs, disable=len(pairs) == 1, desc="inpaint"):
        image, mask_image = read_image(src), read_image(mask)
        if mask_image.shape[:2] != image.shape[:2] and not args.resize_mask:
            raise UserError(
                f"mask {mask.name} is {mask_image.shape[1]}x{mask_image.shape[0]} but {src.name} is "
                f"{image.shape[1]}x{image.shape[0]}: give a mask of the same size, or --resize-mask to stretch it"
            )
        result = inpaint(
            image,
            mask_image,
            method,
            strategy=args.strategy,
            dilate=args.dilate,
            feather=args.feather,
            flips=args.flips,
        )
        if result.notice:
            print(f"{src.name}: {result.notice}", file=sys.stderr)
        save_png(
            result.image,
            dst,
            make_recipe(
                "inpaint",
                model=args.model,
                input=src.name,
                strategy=args.strategy,
                dilate=args.dilate,
                feather=args.feather,
                flips=args.flips,
            ),
        )
    print(f"wrote {len(pairs)} image(s) to {args.output}")
    return 0


def cmd_outpaint(args) -> int:
    from tqdm import tqdm

    from genstudio import registry
    from genstudio.limits import Limits
    from genstudio.tasks.inpaint import BASELINES, outpaint, parse_extension
    from genstudio.tasks.io import make_recipe, read_image, save_png

    extend = parse_extension(args.extend)
    method = args.model if args.model in BASELINES else registry.load(args.model)
    pairs = _pairs(args.input, args.output)
    for src, dst, _ in tqdm(pairs, disable=len(pairs) == 1, desc="outpaint"):
        result = outpaint(read_image(src), extend, method, max_pixels=Limits.from_env().max_pixels)
        if result.notice:
            print(f"{src.name}: {result.notice}", file=sys.stderr)
        save_png(result.image, dst, make_recipe("outpaint", model=args.model, input=src.name, extend=list(extend)))
    print(f"wrote {len(pairs)} image(s) to {args.output}")
    return 0


def cmd_restyle(args) -> int:
    """Pictures (a file or a folder, names kept) or emoji names, redrawn in a style (or `all`: one file per style)."""
    from tqdm import tqdm

    from genstudio import registry
    from genstudio.tasks.io import make_recipe, read_image, save_png
    from genstudio.tasks.restyle import check_restyler, find_name, fit, restyle

    model = registry.load(args.model)
    check_restyler(model)
    styles = list(model.styles) if args.style == "all" else [args.style]
    if (args.input is None) == (args.emoji is None):
        raise UserError("give --input (a picture or a folder) or --emoji NAMES, not both")
    if args.emoji is not None:
        names = [n.strip() for n in args.emoji.split(",") if n.strip()]
        for name in names:
            find_name(model, name)  # every name checked before anything is written
        jobs = [
            (name, Path(args.output) if len(names) == 1 else Path(args.output) / f"{name.replace(' ', '_')}.png")
            for name in names
        ]
    else:  # every picture read and checked before anything is written
        jobs = [(src, dst) for src, dst, _ in _pairs(args.input, args.output)]
        pictures = {src: read_image(src) for src, _ in jobs}
        for picture in pictures.values():
            fit(picture)
    outputs = []
    for source, dst in tqdm(jobs, disable=len(jobs) == 1, desc="restyle"):
        given = {"emoji": source} if isinstance(source, str) else {"input": source.name}
        picture = None if isinstance(source, str) else pictures[source]
        for style in styles:
            out = restyle(
                model,
                images=None if picture is None else [picture],
                names=[source] if picture is None else None,
                style=style,
            )[0]
            target = dst.with_name(f"{dst.stem}-{style}.png") if len(styles) > 1 else dst
            target.parent.mkdir(parents=True, exist_ok=True)
            outputs.append(save_png(out, target, make_recipe("restyle", model=args.model, style=style, **given)))
    print(f"wrote {len(outputs)} image(s) to {args.output}")
    return 0


def cmd_walk(args) -> int:
    from genstudio import registry
    from genstudio.kinds import kind_of
    from genstudio.tasks.generate import parse_seeds
    from genstudio.tasks.io import make_recipe
    from genstudio.tasks.walk import encode_video, walk_frames

    model = registry.load(args.model)
    split = lambda parts: [x.strip() for part in (parts or []) for x in part.split(",") if x.strip()] or None
    labels, styles = split(args.labels), split(args.styles)
    shared = dict(
        frames_per_transition=args.frames_per_transition,
        interpolation=args.interpolation,
        loop=args.loop,
        background=args.background,
    )
    if model.task == "restyle":  # a morph between real emoji, by name or picture
        from genstudio.tasks.io import read_image
        from genstudio.tasks.walk import morph_frames

        if not args.emoji or args.seeds:
            raise UserError(
                f"{args.model} morphs between emoji: give --emoji 'NAME,NAME,...' (names or picture files), no seeds"
            )
        emoji = split([args.emoji])
        is_file = lambda e: Path(e).suffix.lower() in IMAGE_SUFFIXES and Path(e).is_file()
        keyframes = [read_image(e) if is_file(e) else e for e in emoji]
        frames = morph_frames(
            model,
            keyframes,
            styles=styles,
            display_size=args.size,
            resize=args.resize,
            **{**shared, "background": BACKGROUNDS[args.background]},
        )
        keys = {"emoji": emoji}
    else:
        if not args.seeds:
            raise UserError("give --seeds, e.g. 1,5,9-12")
        latent = kind_of(model).latent_settings(args.truncation)
        resize = args.resize if args.resize in ("nearest", "smooth") else registry.load(args.resize)
        frames = walk_frames(
            model,
            parse_seeds(args.seeds),
            labels=labels,
            styles=styles,
            grid_size=tuple(args.grid),
            display_size=args.size,
            resize=resize,
            **latent,
            **{**shared, "background": BACKGROUNDS[args.background]},
        )
        keys = {"seeds": args.seeds, "labels": labels, "grid": args.grid, **latent}
    recipe = make_recipe(
        "walk", model=args.model, **keys, styles=styles, fps=args.fps, size=args.size, resize=args.resize, **shared
    )
    written = encode_video(frames, args.output, args.fps, recipe, gif=args.gif)
    print("wrote " + ", ".join(map(str, written)))
    return 0


def cmd_serve(args) -> int:
    from genstudio.ui.app import launch

    launch(host=args.host, port=args.port, share=args.share)
    return 0


def cmd_train(args) -> int:
    from genstudio.train.loop import train

    path = train(args.config, resume=args.resume, run_dir=args.run_dir, overrides=args.set)
    print(f"wrote {path}; ship it with: genstudio promote {path.parent}")
    return 0


def cmd_reproduce(args) -> int:
    from genstudio.train.recipes import reproduce

    path = reproduce(
        args.model,
        scale=args.scale,
        runs=args.run_dir,
        evaluate=not args.no_eval,
        progress=lambda m: print(m, file=sys.stderr),
    )
    print(f"promoted to {path}")
    return 0


def cmd_promote(args) -> int:
    from genstudio.eval.evaluate import promote

    path, metrics = promote(args.run_dir, progress=lambda m: print(m, file=sys.stderr))
    print(json.dumps(metrics, indent=2))
    print(f"promoted to {path}")
    return 0


def cmd_eval(args) -> int:
    from genstudio.eval.evaluate import evaluate
    from genstudio.train.config import parse_sampling

    metrics = evaluate(
        args.name,
        write=not args.no_write,
        progress=lambda m: print(m, file=sys.stderr),
        sampling=parse_sampling(args.sampling),
    )
    print(json.dumps(metrics, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genstudio",
        description="See what generative models do.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples:")[1],
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the registered models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("sample", help="sample images from a GAN/VAE (conditional: --label)")
    p.add_argument("--model", help="required unless --recipe names it")
    p.add_argument(
        "--recipe",
        help="remake a result: a PNG the app or CLI made, or a link the app gave "
        "(options given here override its settings)",
    )
    p.add_argument("--n", type=int, default=None, help="number of images (default 16)")
    p.add_argument("--seed", type=int, default=None, help="image i uses seed + i (default 0)")
    p.add_argument("--label", help="class index or name (conditional models; default: drawn per image from its seed)")
    p.add_argument(
        "--style", help="style index or name (style-conditional models such as emoji-gan; default: drawn per image)"
    )
    p.add_argument(
        "--truncation",
        type=float,
        default=None,
        help="GAN truncation threshold, e.g. 1.0; 0 = off (default: the model's own)",
    )
    p.add_argument(
        "--temperature", type=float, default=None, help="VAE prior temperature (default: the model's own, else 1)"
    )
    p.add_argument("--output", required=True, help=".png grid or .npz images")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("upscale", help="super-resolve an image or a folder")
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--tile", type=int, default=256, help="tile side in input pixels (0 = whole image)")
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("inpaint", help="fill the white part of a mask (file or folder)")
    p.add_argument("--model", required=True, help="an inpaint model, or telea / navier-stokes")
    p.add_argument("--input", required=True)
    p.add_argument("--mask", required=True, help="white = fill; a folder is matched by file name")
    p.add_argument("--output", required=True)
    p.add_argument("--resize-mask", action="store_true", help="stretch a mask of another size to the image (nearest)")
    p.add_argument("--strategy", choices=["crop", "whole"], default="crop")
    p.add_argument("--dilate", type=int, default=0)
    p.add_argument("--feather", type=int, default=0)
    p.add_argument(
        "--flips",
        type=int,
        choices=[1, 2, 4],
        default=1,
        help="average a learned model's fills of 1, 2 or 4 mirrored copies (4: +0.07 to +0.15 dB, 4x the time)",
    )
    p.set_defaults(func=cmd_inpaint)

    p = sub.add_parser("outpaint", help="extend an image (file or folder) beyond its border")
    p.add_argument("--model", required=True, help="an inpaint model, or telea / navier-stokes")
    p.add_argument("--input", required=True)
    p.add_argument("--extend", required=True, help="pixels to add: LEFT,TOP,RIGHT,BOTTOM (or one number for all sides)")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_outpaint)

    p = sub.add_parser("restyle", help="redraw pictures (a file or a folder) or named emoji in a vendor's style")
    p.add_argument("--model", default="emoji-restyle")
    p.add_argument("--input", help="a picture (any size; RGBA, RGB or grey) or a folder of them")
    p.add_argument("--emoji", help="emoji names instead of --input, e.g. 'cat face, slice of pizza'")
    p.add_argument("--style", default="noto", help="noto, twemoji, fluent, or all (one file per style, NAME-STYLE.png)")
    p.add_argument("--output", required=True, help="a .png, or a folder for a folder or several names")
    p.set_defaults(func=cmd_restyle)

    p = sub.add_parser("walk", help="render a latent-walk video")
    p.add_argument("--model", required=True)
    p.add_argument("--seeds", help="e.g. 1,5,9-12 (generators)")
    p.add_argument(
        "--emoji", help="restyle models: keyframes by emoji name or picture file, e.g. 'grinning face,cat face'"
    )
    p.add_argument(
        "--labels", nargs="*", help="class names/indices per keyframe (conditional models; none: a tour of every class)"
    )
    p.add_argument(
        "--styles", nargs="*", help="styles per keyframe, e.g. noto,twemoji,fluent (style models; one holds it)"
    )
    p.add_argument("--background", choices=["white", "black"], default="white", help="behind transparent images")
    p.add_argument("--frames-per-transition", type=int, default=30)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--loop", action="store_true")
    p.add_argument("--interpolation", choices=["spherical", "linear"], default="spherical")
    p.add_argument("--truncation", type=float, default=None, help="GAN truncation; 0 = off (default: the model's own)")
    p.add_argument("--grid", type=int, nargs=2, default=[1, 1], metavar=("COLS", "ROWS"))
    p.add_argument("--size", type=int, default=256, help="display size in pixels")
    p.add_argument("--resize", default="nearest", help="nearest, smooth or an upscale model name")
    p.add_argument("--gif", action="store_true", help="also write a GIF")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_walk)

    p = sub.add_parser("serve", help="start the web app (what `python app.py` does)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("reproduce", help="rebuild a shipped model from its recipe (configs/MODEL.toml)")
    p.add_argument("model")
    p.add_argument("--scale", type=float, default=1.0, help="run every stage at this fraction of its steps")
    p.add_argument("--run-dir", default="runs", help="where the stages' runs go (default runs/)")
    p.add_argument("--no-eval", action="store_true", help="promote without evaluating (no figures in the card)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("train", help="train one stage from a config in configs/stages/")
    p.add_argument("config")
    p.add_argument("--resume", action="store_true", help="continue exactly from RUN_DIR/state.pt")
    p.add_argument("--run-dir", help="where the run writes its model, state and log (default runs/NAME)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.steps=8 (repeatable)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("promote", help="evaluate a training run and put its model on the shelf (checkpoints/)")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("eval", help="measure a model and write the figures into its card")
    p.add_argument("name", help="a shelf model, or a run directory / checkpoint file (measured only, nothing written)")
    p.add_argument("--no-write", action="store_true", help="print only; leave the card as it is")
    p.add_argument(
        "--sampling",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="measure with this default latent setting (truncation=1.5, temperature=0.9) and, "
        "unless --no-write, make it the model's default (repeatable)",
    )
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:  # bad input: one line; anything else is a bug and keeps its traceback
        print(f"genstudio {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
