"""Classifiers: the judges of the generators' figures."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genstudio import data, registry
from genstudio.tasks.images import grid, to_uint8
from genstudio.train.ddp import unwrap
from genstudio.train.families import register
from genstudio.train.families.base import _LabelledImages, on_white


@register("classifier")
class ClassifierFamily(_LabelledImages):  # its [train] keys: a labelled set's (LabelledSettings)
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.modules = {"net": net}
        self.optimizers = {"net": torch.optim.AdamW(net.parameters(), lr=self.t.lr, weight_decay=1e-4)}
        self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        if self.styles is not None:  # emoji: judged on the held-out code points, composited on white
            test = data.load_emoji("test", self.image_size)
            x = on_white(torch.from_numpy(test["images"]).permute(0, 3, 1, 2))
            self.test = (x, torch.from_numpy(test["labels"]), torch.from_numpy(test["styles"]))
        else:
            test_images, test_labels, _ = data.load_labelled_images(self.data_cfg.dataset, "test")
            self.test = (torch.from_numpy(test_images[:, None]).float().div(255), torch.from_numpy(test_labels))

    def step(self, batch):
        x, conds = batch
        if x.shape[1] == 4:
            x = on_white(x)
        # light augmentation: random shifts of up to 2 px
        x = torch.roll(
            x,
            shifts=(
                int(torch.randint(-2, 3, (1,), generator=self.rng)),
                int(torch.randint(-2, 3, (1,), generator=self.rng)),
            ),
            dims=(2, 3),
        )
        net = self.modules["net"]
        with self.autocast():
            features = net.features(x)
            logits = net.head(features)
            style_logits = unwrap(net).style_head(features) if len(conds) > 1 else None
        loss = F.cross_entropy(logits.float(), conds[0], label_smoothing=0.05)
        losses = {"loss": loss.item()}
        if style_logits is not None:
            style_loss = F.cross_entropy(style_logits.float(), conds[1], label_smoothing=0.05)
            loss = loss + style_loss
            losses["style_loss"] = style_loss.item()
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        self.schedulers["net"].step()
        return losses

    @torch.no_grad()
    def validate(self, net):
        net.eval()
        x, y = self.test[:2]
        feats = torch.cat([net.features(x[i : i + 1000].to(self.device)).cpu() for i in range(0, len(x), 1000)])
        out = {"test_accuracy": round(float((net.head(feats).argmax(1) == y).float().mean()), 4)}
        if len(self.test) > 2:
            out["test_style_accuracy"] = round(
                float((net.style_head(feats).argmax(1) == self.test[2]).float().mean()), 4
            )
        return out

    def preview(self, net):
        return grid(to_uint8(self.test[0][:100]), 10)

    def card(self):
        card = self.base_card("classify")
        if self.styles is not None:
            # it sees emoji composited on white, as generated samples are judged
            card.update(
                channels=3,
                styles=self.style_names,
                credits=data.EMOJI_CREDITS,
                split="train: 80% of code points (genstudio.data.emoji_split), all styles",
            )
        return card
