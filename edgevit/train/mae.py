"""Masked-autoencoder pre-training around any edgevit model (the mmLiT path, PAPERS.md section 1).

The encoder is the model itself: `model.patch_embed` makes patch tokens, 75% are dropped per image at random,
and `model.forward_tokens(visible, positions)` encodes the rest with the encoder's own position embedding. A
small decoder (2 blocks, its own learnable position embedding, a learned mask token) predicts every patch's
pixels. Loss: mean squared error on masked patches + `visible_weight` (0.1) x the error on visible ones, with
per-patch normalised targets (MAE's norm_pix_loss, our choice).

With the convolutional stem the stem sees the whole image before tokens are dropped (3x3 receptive fields leak a
pixel across patch borders); we accept that, as the stem is a token embedding like the linear one.
"""

from __future__ import annotations

import torch
from torch import nn

from edgevit.errors import ConfigError


class MAE(nn.Module):
    def __init__(self, encoder: nn.Module, decoder_dim: int = 64, decoder_depth: int = 2, decoder_heads: int = 4,
                 mask_ratio: float = 0.75, visible_weight: float = 0.1, norm_pix: bool = True) -> None:
        super().__init__()
        from edgevit.models.layers.mlp import Mlp
        from edgevit.models.vit import Block, ViTConfig

        cfg = encoder.config
        if cfg.attention in ("linformer", "nystrom"):
            raise ConfigError(f"MAE pre-training feeds a varying number of tokens; {cfg.attention} attention is built "
                              "for a fixed count (use softmax or performer)")
        if not 0.0 < mask_ratio < 1.0:
            raise ConfigError(f"mask ratio must be in (0, 1), got {mask_ratio}")
        self.encoder = encoder
        self.mask_ratio, self.visible_weight, self.norm_pix = mask_ratio, visible_weight, norm_pix
        self.patch, self.chans, self.num_patches = cfg.patch_size, cfg.in_chans, cfg.num_patches
        self.has_cls = bool(cfg.class_token)
        dcfg = ViTConfig(name="mae_decoder", img_size=cfg.img_size, patch_size=cfg.patch_size, dim=decoder_dim,
                         depth=decoder_depth, num_heads=decoder_heads, class_token=cfg.class_token)
        self.decoder_embed = nn.Linear(cfg.dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.dec_pos_embed = nn.Parameter(torch.zeros(1, dcfg.num_tokens, decoder_dim))
        self.decoder_blocks = nn.ModuleList(Block(dcfg, Mlp(decoder_dim, 4 * decoder_dim), 0.0) for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_dim, cfg.patch_size**2 * cfg.in_chans)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.dec_pos_embed, std=0.02)
        encoder.head.requires_grad_(False)  # unused while pre-training; frozen so DDP sees no unused parameters

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, p*p*C), patches in the raster order of the patch embedding."""
        B, C, H, W = x.shape
        p = self.patch
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(B, (H // p) * (W // p), p * p * C)

    def random_keep(self, B: int, device: torch.device) -> torch.Tensor:
        """Sorted indices (B, n_keep) of the visible patches of each image."""
        n_keep = max(1, int(round(self.num_patches * (1 - self.mask_ratio))))
        noise = torch.rand(B, self.num_patches, device=device)
        return noise.argsort(dim=1)[:, :n_keep].sort(dim=1).values

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Images -> (loss, parts). Parts: masked and visible reconstruction errors."""
        tokens = self.encoder.patch_embed(x)  # (B, N, D)
        B, N, D = tokens.shape
        keep = self.random_keep(B, x.device)
        visible = tokens.gather(1, keep[..., None].expand(-1, -1, D))
        latent = self.decoder_embed(self.encoder.forward_tokens(visible, keep))  # (B, [1+]n_keep, dd)
        c = int(self.has_cls)
        full = self.mask_token.expand(B, N, -1).clone()
        full = full.scatter(1, keep[..., None].expand(-1, -1, full.shape[-1]), latent[:, c:])
        if c:
            full = torch.cat([latent[:, :1], full], dim=1)
        h = full + self.dec_pos_embed
        for blk in self.decoder_blocks:
            h = blk(h)
        pred = self.decoder_pred(self.decoder_norm(h))[:, c:]  # (B, N, p*p*C)
        target = self.patchify(x)
        if self.norm_pix:
            mu, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mu) / (var + 1e-6).sqrt()
        err = ((pred.float() - target.float()) ** 2).mean(-1)  # (B, N)
        mask = torch.ones(B, N, device=x.device).scatter(1, keep, 0.0)  # 1 = masked
        masked = (err * mask).sum() / mask.sum()
        vis = (err * (1 - mask)).sum() / (1 - mask).sum().clamp(min=1)
        loss = masked + self.visible_weight * vis
        return loss, {"masked": float(masked.detach()), "visible": float(vis.detach())}

    def decoder_state(self) -> dict[str, torch.Tensor]:
        """Everything but the encoder (saved in train_state.pt so pre-training can resume)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}

    def aux_loss(self) -> torch.Tensor:
        return self.encoder.aux_loss()


def reconstruction_mse(mae: MAE, x: torch.Tensor) -> float:
    """Masked-patch loss on a batch with the model in eval mode (a validation number for pre-training)."""
    was = mae.training
    mae.eval()
    with torch.no_grad():
        _, parts = mae(x)
    mae.train(was)
    return parts["masked"]

