"""Print the README's model table from the checkpoints' cards (the figures `genstudio eval` wrote).

    .venv/bin/python bench/model_table.py
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def sampled_with(m: dict) -> str:
    """A generator's own latent settings the figures were measured with, when they change anything."""
    from genstudio.kinds import NEUTRAL

    chosen = {k: v for k, v in (m.get("sampled_with") or {}).items() if v != NEUTRAL.get(k)}
    return "; sampled at " + ", ".join(f"{k} {v:g}" for k, v in chosen.items()) if chosen else ""


def figures(card: dict) -> str:
    m = card.get("metrics", {})
    task = card["task"]
    if task == "classify":
        style = f", style {m['test_style_accuracy']}" if "test_style_accuracy" in m else ""
        return f"held-out test accuracy {m.get('test_accuracy')}{style}"
    if task in ("sample", "conditional") and "fd_real_floor" in m:  # emoji: accuracy, FD beside its floor, copies
        return (f"category accuracy **{m['category_accuracy']}**, style accuracy **{m['style_accuracy']}** "
                f"(real held-out emoji: {m['real_test_category_accuracy']} / {m['real_test_style_accuracy']}); "
                f"FD **{m['fd_classifier_features']}** = **{m['fd_ratio_to_floor']}x** the real-data floor {m['fd_real_floor']} "
                f"(real emoji shifted 4 px: {m['fd_real_shifted_4px']}); copy rate {m['copy_rate']}{sampled_with(m)}")
    if task in ("sample", "conditional"):
        parts = []
        if "class_accuracy" in m:
            parts.append(f"class accuracy **{m['class_accuracy']}** (real test images: {m['real_test_accuracy']})")
        fd, floor = m.get("fd_classifier_features"), m.get("real_fd_train_vs_test")
        ratio = f" = **{fd / floor:.0f}x** the" if fd and floor else ", the"
        parts.append(f"FD **{fd}**{ratio} real-data floor {floor}")
        parts.append(f"class coverage {m.get('class_coverage_entropy')} (ln 10 = 2.303)")
        if "test_recon_bce_per_image" in m:
            parts.append(f"test reconstruction BCE {m['test_recon_bce_per_image']} nats/image, MSE {m['test_recon_mse_per_pixel']}/pixel")
        if "fd_reconstructions" in m:  # what a perfect prior would reach
            parts.append(f"its reconstructions' FD {m['fd_reconstructions']} (the ceiling for its prior)")
        return "; ".join(parts) + sampled_with(m)
    if task == "upscale":
        return (f"Set5 Y PSNR **{m.get('set5_psnr_y_model')} dB** / SSIM {m.get('set5_ssim_y_model')} "
                f"(bicubic {m.get('set5_psnr_y_bicubic')} / {m.get('set5_ssim_y_bicubic')}, "
                f"Lanczos {m.get('set5_psnr_y_lanczos')} / {m.get('set5_ssim_y_lanczos')})")
    if task == "inpaint" and "unseen 20-40% psnr model" in m:
        gains = "; ".join(f"{band}: **{m[f'unseen {band} gain over telea (dB)']:+.2f}**" for band in ("5-10%", "10-20%", "20-40%"))
        set5 = ", ".join(f"{m[f'set5 {band} gain over telea (dB)']:+.2f}" for band in ("5-10%", "10-20%", "20-40%"))
        if "unseen 20-40% gain over telea with 4 flips (dB)" in m:
            gains += " (best quality, 4 mirrored passes: " + ", ".join(
                f"{m[f'unseen {band} gain over telea with 4 flips (dB)']:+.2f}" for band in ("5-10%", "10-20%", "20-40%")) + ")"
        outpaint = "/".join(str(m[f"unseen outpaint 32px border psnr {k}"]) for k in ("model", "telea", "edge"))
        detail = (f"; detail in 20-40% holes {m['unseen 20-40% hole_detail model']} of the photo's (Telea "
                  f"{m['unseen 20-40% hole_detail telea']})") if "unseen 20-40% hole_detail model" in m else ""
        return (f"dB over Telea on unseen photos {gains} (Set5: {set5}); 20-40% PSNR {m['unseen 20-40% psnr model']} vs Telea "
                f"{m['unseen 20-40% psnr telea']}{detail}; outpaint 32-px border PSNR model/Telea/edge {outpaint}")
    if task == "inpaint":
        rows = []
        for band in ("5-10%", "10-20%", "20-40%"):
            rows.append(f"{band}: **{m.get(f'{band} psnr model')}** vs Telea {m.get(f'{band} psnr telea')} / NS {m.get(f'{band} psnr navier-stokes')} dB")
        return "PSNR " + "; ".join(rows)
    return ""


def main() -> None:
    from genstudio import registry
    from genstudio.card import earlier_stages

    print("| model | task | what | trained | figures (`genstudio eval NAME`) | picture |")
    print("|---|---|---|---|---|---|")
    for info in registry.list_models(include_unavailable=True):
        if info.error:
            print(f"| {info.name} | | unavailable: {info.error} | | | |")
            continue
        p = info.card.get("provenance", {})
        pic = REPO / "assets" / "models" / f"{info.name}.png"
        picture = f"![{info.name}](assets/models/{info.name}.png)" if pic.exists() else ""
        params = registry.parameter_count(info.name) / 1e6
        trained = f"{p.get('steps')} steps, {p.get('wall_time_minutes')} min"
        stages = earlier_stages(info.card)
        if stages:  # its cost includes every stage it was made from
            total = (p.get("wall_time_minutes") or 0) + sum(stage.get("wall_time_minutes") or 0 for stage in stages)
            names = " + ".join(f"`{stage['model']}` ({stage.get('steps')} steps, {stage.get('wall_time_minutes')} min)" for stage in stages)
            trained = (f"{names} + this stage ({trained})" if p.get("steps") else names) + f": {round(total, 1)} CPU-min in all"
        print(f"| `{info.name}` | {info.task} | {info.card.get('description', '')} {params:.2f} M parameters; {info.card.get('dataset')} "
              f"| {trained} | {figures(info.card)} | {picture} |")


if __name__ == "__main__":
    main()
