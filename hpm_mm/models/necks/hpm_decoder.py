"""MAE decoder with HPM's parallel loss-predictor branch."""
import copy
from typing import Optional, Tuple

import torch
from mmpretrain.models.necks.mae_neck import MAEPretrainDecoder
from mmpretrain.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class HPMDecoder(MAEPretrainDecoder):
    """Two parallel decoder branches on one shared decoder input.

    The reconstructor (``decoder_blocks``, ``ln1``, ``decoder_pred``) is
    :class:`MAEPretrainDecoder`'s. The loss predictor is a second stack of
    the same shape (``decoder_blocks_losspred``, ``decoder_norm_losspred``,
    ``decoder_pred_losspred``) whose ``p*p*3`` outputs per token are averaged
    into one predicted-loss score per patch, as in the released code (its
    ``decoder_pred_losspred.weight`` is (p*p*3, 512)). For feature targets
    only the reconstructor's last Linear changes width
    (``predict_feature_dim``); the loss predictor keeps its p*p*3 outputs.

    Args:
        num_patches, patch_size, in_chans, embed_dim, decoder_embed_dim,
        decoder_depth, decoder_num_heads, mlp_ratio, norm_cfg, init_cfg:
            Those of :class:`MAEPretrainDecoder` (L, p, image channels,
            encoder width, decoder width, blocks per branch, heads, MLP
            ratio, LN with eps 1e-6), with its defaults.
        predict_feature_dim (int, optional): Output width of the
            reconstructor (the target's channels, e.g. 512 for CLIP, 768 for
            DINO or the EMA teacher). Defaults to None: p*p*in_chans pixels.
    """

    def __init__(self,
                 num_patches: int = 196,
                 patch_size: int = 16,
                 in_chans: int = 3,
                 embed_dim: int = 1024,
                 decoder_embed_dim: int = 512,
                 decoder_depth: int = 8,
                 decoder_num_heads: int = 16,
                 mlp_ratio: float = 4.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 predict_feature_dim: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if predict_feature_dim is not None and (
                isinstance(predict_feature_dim, bool)
                or not isinstance(predict_feature_dim, int)
                or predict_feature_dim < 1):
            raise ValueError('HPMDecoder: predict_feature_dim must be a '
                             f'positive int, got {predict_feature_dim!r}')
        super().__init__(num_patches, patch_size, in_chans, embed_dim,
                         decoder_embed_dim, decoder_depth, decoder_num_heads,
                         mlp_ratio, norm_cfg, predict_feature_dim, init_cfg)
        # the loss predictor: the reconstructor's stack, another p*p*3 head
        self.decoder_blocks_losspred = copy.deepcopy(self.decoder_blocks)
        self.decoder_norm_losspred = copy.deepcopy(self.decoder_norm)
        self.decoder_pred_losspred = nn.Linear(
            decoder_embed_dim, patch_size**2 * in_chans)

    def embed(self, x: Tensor, ids_restore: Optional[Tensor] = None) -> Tensor:
        """Build the decoder input shared by both branches.

        Args:
            x (Tensor): Encoder tokens (B, 1 + K, C), cls first.
            ids_restore (Tensor, optional): (B, L) indices that put the
                visible-first token order back in position order; mask
                tokens fill the missing positions. None when every patch was
                encoded (K = L): no mask token is used.

        Returns:
            Tensor: Decoder tokens (B, 1 + L, D) with position embedding.
        """
        x = self.decoder_embed(x)
        if ids_restore is not None:
            B, L = ids_restore.shape
            mask_tokens = self.mask_token.expand(B, L + 1 - x.shape[1], -1)
            patches = torch.cat([x[:, 1:], mask_tokens], dim=1)
            patches = torch.gather(
                patches, 1,
                ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
            x = torch.cat([x[:, :1], patches], dim=1)
        return x + self.decoder_pos_embed

    def reconstruct(self, tokens: Tensor) -> Tensor:
        """Reconstructor branch: decoder input (B, 1 + L, D) to pixels
        (B, L, p*p*3) or features (B, L, predict_feature_dim)."""
        for blk in self.decoder_blocks:
            tokens = blk(tokens)
        return self.decoder_pred(self.decoder_norm(tokens))[:, 1:]

    def predict_loss(self, tokens: Tensor) -> Tensor:
        """Loss-predictor branch: decoder input (B, 1 + L, D) to one
        predicted reconstruction-loss score per patch (B, L)."""
        for blk in self.decoder_blocks_losspred:
            tokens = blk(tokens)
        out = self.decoder_pred_losspred(self.decoder_norm_losspred(tokens))
        return out[:, 1:].mean(dim=-1)

    def forward(self, x: Tensor,
                ids_restore: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Both branches on :meth:`embed`'s tokens: the reconstruction
        (B, L, p*p*3 or predict_feature_dim) and the scores (B, L)."""
        tokens = self.embed(x, ids_restore)
        return self.reconstruct(tokens), self.predict_loss(tokens)
