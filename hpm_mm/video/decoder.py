"""The VideoMAE decoder, with HPM's loss-predictor branch as an option."""
import copy
from typing import Optional, Tuple

import torch
from mmaction.models.backbones.vit_mae import Block, get_sinusoid_encoding
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule, ModuleList
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..models.algorithms.hpm import init_mae_weights


@MODELS.register_module()
class VideoMAEDecoder(BaseModule):
    """VideoMAE's decoder: mmaction's ViT blocks on the visible tokens and
    one mask token per masked position.

    Its input (:meth:`embed`) is the reference's order: the visible tokens
    (``encoder_to_decoder``, a Linear without bias, then their positions)
    in increasing n, then the mask token plus the position of each masked
    token in increasing n; positions are a fixed sin-cos table over n at
    the decoder's width. The reconstructor (``blocks``, ``norm``, ``head``)
    outputs the ``3 * tubelet_size * patch_size**2`` pixels of the last
    ``num`` tokens only. With ``loss_predictor`` a second stack of the same
    shape (``blocks_losspred``, ``norm_losspred``, ``head_losspred``) turns
    the same input into one predicted-loss score per token, the mean of its
    outputs (HPM's branch, as in :class:`HPMDecoder`).

    Init (:meth:`init_weights`): xavier-uniform Linear with zero bias,
    LayerNorm (1, 0), ``encoder_to_decoder`` at PyTorch's default, mask
    token truncated normal std 0.02 within +-0.02.

    Args:
        num_patches (int): Tokens per clip, N. Defaults to 1568.
        embed_dim (int): Encoder width C. Defaults to 768.
        decoder_embed_dim (int): Decoder width D. Defaults to 384.
        decoder_depth (int): Blocks per branch. Defaults to 4.
        decoder_num_heads (int): Attention heads. Defaults to 6.
        mlp_ratio (float): MLP width over D. Defaults to 4.
        patch_size (int): Spatial patch size. Defaults to 16.
        tubelet_size (int): Frames per token. Defaults to 2.
        in_chans (int): Clip channels. Defaults to 3.
        loss_predictor (bool): Add the loss-predictor branch. Defaults to
            False.
        init_cfg (dict, optional): Replaces the reference init.
    """

    def __init__(self,
                 num_patches: int = 1568,
                 embed_dim: int = 768,
                 decoder_embed_dim: int = 384,
                 decoder_depth: int = 4,
                 decoder_num_heads: int = 6,
                 mlp_ratio: float = 4.,
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 in_chans: int = 3,
                 loss_predictor: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for arg, val in (('num_patches', num_patches),
                         ('embed_dim', embed_dim),
                         ('decoder_embed_dim', decoder_embed_dim),
                         ('decoder_depth', decoder_depth),
                         ('decoder_num_heads', decoder_num_heads),
                         ('patch_size', patch_size),
                         ('tubelet_size', tubelet_size),
                         ('in_chans', in_chans)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(f'VideoMAEDecoder: {arg} must be a positive '
                                 f'int, got {val!r}')
        if decoder_embed_dim % decoder_num_heads:
            raise ValueError(
                f'VideoMAEDecoder: decoder_embed_dim {decoder_embed_dim} is '
                f'not divisible by decoder_num_heads {decoder_num_heads}')
        self.num_patches = num_patches
        self.loss_predictor = bool(loss_predictor)
        self.encoder_to_decoder = nn.Linear(
            embed_dim, decoder_embed_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.register_buffer(
            'pos_embed',
            get_sinusoid_encoding(num_patches, decoder_embed_dim),
            persistent=False)
        self.blocks = ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio)
            for _ in range(decoder_depth)
        ])
        self.norm = build_norm_layer(
            dict(type='LN', eps=1e-6), decoder_embed_dim)[1]
        self.head = nn.Linear(decoder_embed_dim,
                              in_chans * tubelet_size * patch_size**2)
        if self.loss_predictor:
            self.blocks_losspred = copy.deepcopy(self.blocks)
            self.norm_losspred = copy.deepcopy(self.norm)
            self.head_losspred = copy.deepcopy(self.head)

    def init_weights(self) -> None:
        """The reference init, unless an ``init_cfg`` replaces it."""
        super().init_weights()
        if self.init_cfg:
            return
        for name, child in self.named_children():
            if name != 'encoder_to_decoder':
                init_mae_weights(child)
        nn.init.trunc_normal_(self.mask_token, std=.02, a=-.02, b=.02)

    def embed(self, latent: Tensor,
              ids_restore: Optional[Tensor] = None) -> Tensor:
        """Build the decoder input shared by both branches.

        Args:
            latent (Tensor): Encoder tokens (B, K, C), visible ones in
                increasing n (all N when ``ids_restore`` is None).
            ids_restore (Tensor, optional): (B, N) rank of each token in the
                visible-then-masked order (:class:`VideoMAEViT`'s); None
                when every token was encoded: no mask token.

        Returns:
            Tensor: (B, N, D): the visible tokens, then one mask token per
            masked position, each with its position; all N in order when
            ``ids_restore`` is None.
        """
        # the table stays fp32 under autocast, as in the reference
        x, pos = self.encoder_to_decoder(latent), self.pos_embed
        if ids_restore is None:
            return x + pos
        B, N = ids_restore.shape
        order = torch.argsort(ids_restore, dim=1)  # visible, then masked
        pos = pos.expand(B, -1, -1).gather(
            1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        masked = self.mask_token.expand(B, N - x.shape[1], -1)
        return torch.cat([x, masked], dim=1) + pos

    @staticmethod
    def _branch(tokens: Tensor, blocks: nn.ModuleList, norm: nn.Module,
                head: nn.Linear, num: Optional[int]) -> Tensor:
        for blk in blocks:
            tokens = blk(tokens)
        return head(norm(tokens if num is None else tokens[:, -num:]))

    def reconstruct(self, tokens: Tensor, num: int) -> Tensor:
        """Reconstructor branch: (B, N, D) decoder input to the pixels
        (B, num, 3 * tubelet_size * patch_size**2) of its last ``num``
        tokens."""
        return self._branch(tokens, self.blocks, self.norm, self.head, num)

    def predict_loss(self, tokens: Tensor,
                     num: Optional[int] = None) -> Tensor:
        """Loss-predictor branch: (B, N, D) decoder input to one score per
        token (B, num) of its last ``num`` tokens (all N when None)."""
        if not self.loss_predictor:
            raise RuntimeError('VideoMAEDecoder: predict_loss needs '
                               'loss_predictor=True')
        return self._branch(tokens, self.blocks_losspred, self.norm_losspred,
                            self.head_losspred, num).mean(dim=-1)

    def forward(self, latent: Tensor,
                ids_restore: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Decode the masked tokens.

        Args:
            latent (Tensor): Visible encoder tokens (B, K, C).
            ids_restore (Tensor): (B, N), see :meth:`embed`.

        Returns:
            tuple[Tensor, Tensor | None]: pred (B, M, 3 * tubelet_size *
            patch_size**2) and scores (B, M) (None without
            ``loss_predictor``), rows = the M = N - K masked tokens in
            increasing n.
        """
        tokens = self.embed(latent, ids_restore)
        num = tokens.shape[1] - latent.shape[1]
        scores = self.predict_loss(tokens, num) \
            if self.loss_predictor else None
        return self.reconstruct(tokens, num), scores
