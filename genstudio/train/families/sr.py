"""Super-resolution on photo patches (or emoji, for a cascade's upscaler)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from genstudio import data, registry
from genstudio.card import Card
from genstudio.tasks.images import composite, grid, to_uint8
from genstudio.tasks.upscale import bicubic_downscale
from genstudio.train.families import register
from genstudio.train.families.base import Family, _train_photos, random_crop


@dataclass
class SRSettings:
    lr_patch: int = 48  # the low-resolution side of a training patch


@register("sr")
class SRFamily(Family):
    Settings = SRSettings

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.emoji = self.data_cfg.dataset == "emoji"
        if self.emoji:  # the second half of a 32 -> 64 px emoji cascade, on premultiplied RGBA
            as_tensor = lambda split: (
                torch.from_numpy(data.load_emoji(split, 64)["images"]).permute(0, 3, 1, 2).contiguous()
            )
            self.emoji_hr, self.emoji_val = as_tensor(self.data_cfg.split), as_tensor("test")[::4]
        else:
            self.photos = _train_photos(self.data_cfg)
        self.scale = net.scale
        self.modules = {"net": net}
        self.optimizers = {"net": self._adam(net, self.t.lr)}
        self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        self.patch = self.s.lr_patch
        if not self.emoji:  # validation: the chosen set ("unseen": photos no training set holds), Set5 beside it
            self.val = data.unseen_crops() if self.data_cfg.val == "unseen" else data.load_photos([self.data_cfg.val])
            self.set5 = data.load_photos(["val/set5"])

    def emoji_low_res(self, hr: torch.Tensor) -> torch.Tensor:
        """Area downsampling: how the 32-px generator's training emoji were made."""
        return F.interpolate(hr, scale_factor=1 / self.scale, mode="area")

    def batches(self):
        while self.emoji:
            hr = self.emoji_hr[torch.randint(0, len(self.emoji_hr), (self.batch_size,), generator=self.rng)].to(
                self.device
            )
            yield self.emoji_low_res(hr), hr
        while True:
            hr = np.stack(
                [random_crop(self.photos, self.patch * self.scale, self.np_rng) for _ in range(self.batch_size)]
            )
            lr = np.stack([bicubic_downscale(h, self.scale) for h in hr])
            yield (
                torch.from_numpy(lr).permute(0, 3, 1, 2).float().div(255).to(self.device),
                torch.from_numpy(hr).permute(0, 3, 1, 2).float().div(255).to(self.device),
            )

    def step(self, batch):
        lr, hr = batch
        loss = F.l1_loss(self.modules["net"](lr), hr)
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        self.schedulers["net"].step()
        return {"l1": loss.item()}

    @torch.no_grad()
    def validate(self, net):
        from genstudio.eval.metrics import sr_scores
        from genstudio.tasks.upscale import upscale_array

        net.eval()
        if self.emoji:
            hr = self.emoji_val.to(self.device)
            lr = self.emoji_low_res(hr)
            psnr_of = lambda out: float(
                (10 * torch.log10(1 / ((out.clamp(0, 1) - hr) ** 2).mean(dim=(1, 2, 3)))).mean()
            )
            bicubic = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
            return {
                "emoji_test_psnr": round(psnr_of(net(lr)), 3),
                "emoji_test_psnr_bicubic": round(psnr_of(bicubic), 3),
            }
        loaded = registry.LoadedModel("training", net, self.card(), self.arch, self.device)

        def mean_psnr(photos):
            scores = []
            for hr in photos:
                hr = hr[: hr.shape[0] - hr.shape[0] % self.scale, : hr.shape[1] - hr.shape[1] % self.scale]
                scores.append(sr_scores(upscale_array(bicubic_downscale(hr, self.scale), loaded), hr, self.scale)[0])
            return round(float(np.mean(scores)), 3)

        scores = {"set5_psnr_y": mean_psnr(self.set5)}
        if self.data_cfg.val == "unseen":
            scores["unseen_psnr_y"] = mean_psnr(self.val)
        return scores

    @torch.no_grad()
    def preview(self, net):
        net.eval()
        if self.emoji:
            hr = self.emoji_val[:8].to(self.device)
            lr = self.emoji_low_res(hr)
            rows = [F.interpolate(lr, scale_factor=self.scale, mode="nearest"), net(lr).clamp(0, 1), hr]
            return composite(grid(to_uint8(torch.cat(rows)), 8, fill=0), 255, premultiplied=True)
        hr = self.set5[2][:128, :128]  # Set5 butterfly: edges show SR best
        lr = (
            torch.from_numpy(np.array(bicubic_downscale(hr, self.scale)))
            .permute(2, 0, 1)[None]
            .float()
            .div(255)
            .to(self.device)
        )
        up = to_uint8(net(lr))[0]
        return np.concatenate([hr, up], axis=1)

    def card(self):
        if self.emoji:
            return Card(
                task="upscale",
                dataset="emoji (premultiplied RGBA)",
                image_size=32,
                channels=4,
                scale=self.scale,
                description=self.cfg.description,
                credits=data.EMOJI_CREDITS,
            ).to_dict()
        return Card(
            task="upscale",
            dataset="T91 + BSD200 (291 images)",
            channels=3,
            scale=self.scale,
            description=self.cfg.description,
        ).to_dict()
