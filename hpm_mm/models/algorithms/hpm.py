"""Hard Patches Mining for masked image modeling (Wang et al., CVPR 2023)."""
import weakref
from contextlib import nullcontext
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import MessageHub
from mmengine.model import constant_init, xavier_init
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from ...errors import ConfigError
from ..heads import HPMFeatureHead
from ..utils import float_drop_path_probs


def init_mae_weights(module: nn.Module) -> None:
    """MAE's init: xavier-uniform Linear, LayerNorm (1, 0), zero biases;
    after mmpretrain's ``init_weights`` (which gives FFN biases a tiny random
    init), so that the start matches the released code."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            xavier_init(m, distribution='uniform')  # bias 0
        elif isinstance(m, nn.LayerNorm):
            constant_init(m, 1)  # bias 0


#: HPM models that have trained (a training forward) and are alive.
_TRAINING: 'weakref.WeakSet[HPM]' = weakref.WeakSet()
_STEP_HOOK = []  # the optimizer step post-hook, once registered


def _update_teachers(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
    """After an optimizer step: average each training HPM's student into its
    teacher if this optimizer holds the student's parameters."""
    for model in list(_TRAINING):
        first = next(model.backbone.parameters())
        if any(p is first for g in optimizer.param_groups
               for p in g['params']):
            epoch = MessageHub.get_current_instance().get_info('epoch', 0)
            model.teacher.update(model.student_modules(), epoch)


@MODELS.register_module()
class HPM(BaseSelfSupervisor):
    """Hard Patches Mining.

    One training step (:meth:`loss`): the teacher (an EMA of the student)
    scores every patch of the unmasked image; the masker masks the hardest
    ``n_hard = int(alpha_t * M)`` of them plus random ones; the student
    encodes the visible patches and its decoder both reconstructs the pixels
    (or, with a ``target_generator``, the target's features: the authors'
    ``--learn_feature_loss``) and predicts the per-patch reconstruction
    loss. Head and masker take L and M from the backbone.

    The model drives its schedule and its teacher itself, with no hook:

    - every training forward (``mode='loss'``, from ``train_step`` or
      mmengine's DDP wrapper) first sets ``alpha_t`` from the progress the
      Runner writes into the current ``MessageHub``, outside :meth:`loss`,
      so a compiled ``loss`` stays one graph.
    - from its first training forward on, a torch optimizer step post-hook
      (registered once per process) EMA-updates the teacher with the
      momentum of the hub's epoch after each step of the optimizer holding
      the student: only real steps (``OptimWrapper`` does not step while
      accumulating gradients, ``GradScaler`` skips inf/NaN fp16 steps),
      whoever steps, with a host-side identity check (no device read-back,
      no collective). DDP ranks step together, so their teachers stay equal.

    Args:
        backbone (dict): :class:`HPMViT` config.
        neck (dict): :class:`HPMDecoder` config.
        head (dict): :class:`HPMHead` config (pixels), or
            :class:`HPMFeatureHead` with a ``target_generator``.
        masker (dict): :class:`HardPatchMasker` config.
        teacher (dict): :class:`HPMTeacherEMA` config (without ``model``).
        target_generator (dict, optional): A feature target
            (:class:`CLIPFeatureTarget`, :class:`DINOFeatureTarget`,
            :class:`EMAFeatureTarget`). Defaults to None: pixels.
        teacher_dtype (str, optional): Run the teacher's forward under
            autocast in 'bf16' or 'fp16' (a speed-up for fp32 training;
            under AMP the whole step, teacher included, is already fp16).
            Defaults to None: the teacher runs in the step's precision.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config. Without one (or
            with a non-``Pretrained`` one) the MAE initialisation is used.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 masker: dict = dict(type='HardPatchMasker'),
                 teacher: dict = dict(type='HPMTeacherEMA'),
                 target_generator: Optional[dict] = None,
                 teacher_dtype: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if neck is None or head is None:
            raise ValueError('HPM: neck and head are required')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=None,
            target_generator=target_generator,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        dtypes = {None: None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
        if teacher_dtype not in dtypes:
            raise ValueError("HPM: teacher_dtype must be None, 'bf16' or "
                             f"'fp16', got {teacher_dtype!r}")
        self.teacher_dtype = dtypes[teacher_dtype]
        # The patch grid and M are the backbone's; head and masker follow.
        M = self.backbone.num_masked
        self.head = MODELS.build(dict(head, num_masked=M))
        self._check_shapes(backbone.get('arch'))
        self.masker = MODELS.build(dict(masker, **self.masker_shape()))
        float_drop_path_probs(self)  # before the teacher copies them
        self.teacher = MODELS.build(
            dict(teacher, model=self.student_modules()))

    def _check_shapes(self, arch) -> None:
        """Encoder, decoder, head and target must agree on widths and grid.

        Raises:
            ConfigError: Naming the config keys, e.g. ``model.neck.embed_dim
                is 768 but model.backbone (arch deit-tiny) is 192 wide``.
            ValueError: A target and a head that do not go together.
        """
        bb, neck, head = self.backbone, self.neck, self.head
        gen = self.target_generator if self.with_target_generator else None
        name = type(gen).__name__
        arch = f' (arch {arch})' if isinstance(arch, str) else ''
        patch = bb.patch_embed.projection.kernel_size[0]
        width, out = neck.decoder_embed.in_features, \
            neck.decoder_pred.out_features
        if width != bb.embed_dims:
            raise ConfigError(f'model.neck.embed_dim is {width} but model.'
                              f'backbone{arch} is {bb.embed_dims} wide')
        if neck.num_patches != bb.num_patches:
            grid = 'x'.join(map(str, bb.patch_resolution))
            raise ConfigError(
                f'model.neck.num_patches is {neck.num_patches} but '
                f'model.backbone has {bb.num_patches} patches ({grid})')
        if (gen is None) == isinstance(head, HPMFeatureHead):
            raise ValueError(
                'HPM: a target_generator needs head HPMFeatureHead and '
                'HPMFeatureHead needs a target_generator, got '
                f'{name if gen else None} with {type(head).__name__}')
        if gen is None and head.patch_size != patch:
            raise ConfigError(f'model.head.patch_size is {head.patch_size} '
                              f'but model.backbone.patch_size is {patch}')
        if gen is None and out != patch**2 * head.in_channels:
            raise ConfigError(
                f'model.neck gives {out} outputs per patch but model.head.'
                f'patch_size {patch} needs {patch**2 * head.in_channels} '
                '(check model.neck.patch_size and predict_feature_dim)')
        if gen is not None and out != (gen.out_channels or bb.embed_dims):
            raise ValueError(
                f'HPM: neck.predict_feature_dim is {out}, the target {name} '
                f'has {gen.out_channels or bb.embed_dims} channels')
        if gen is not None and gen.num_patches not in (None, bb.num_patches):
            raise ValueError(
                f'HPM: the target {name} gives {gen.num_patches} patches, '
                f'the backbone {bb.num_patches}')

    def masker_shape(self) -> dict:
        """The masker's arguments taken from the backbone: L and M."""
        return dict(num_patches=self.backbone.num_patches,
                    num_masked=self.backbone.num_masked)

    def student_modules(self) -> nn.ModuleDict:
        """The averaged part of the student: backbone and decoder."""
        return nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck))

    def init_weights(self) -> None:
        """Initialise the student as MAE does, then copy it to the teacher."""
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and \
            self.init_cfg.get('type') == 'Pretrained'
        if not pretrained:
            init_mae_weights(self.backbone)
            init_mae_weights(self.neck)
        self.teacher.copy_from(self.student_modules())

    def extract_feat(self, inputs: Tensor, source: str = 'student') -> tuple:
        """Encode all patches (no mask); mmpretrain's ``FeatureExtractor``
        passes its extra arguments: ``extractor(img, source='teacher')``.

        Args:
            inputs (Tensor): Normalised images (B, 3, H, W).
            source (str): 'student' (the trained encoder) or 'teacher' (its
                EMA). Defaults to 'student'.

        Returns:
            tuple: Outputs of :class:`HPMViT` without a mask (by default
            ``out_type='raw'``: one (B, 1 + L, C) tensor, cls token first).
        """
        if source == 'student':
            return self.backbone(inputs, mask=None)
        if source == 'teacher':
            return self.teacher.module.backbone(inputs, mask=None)
        raise ValueError(
            f"HPM.extract_feat: source must be 'student' or 'teacher', got "
            f'{source!r}')

    @torch.no_grad()
    def teacher_forward(
            self,
            inputs: Tensor,
            with_scores: Optional[bool] = None,
            with_tokens: Optional[bool] = None
    ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """One teacher pass on the unmasked image: its encoder on all L
        patches, then only its loss-predictor branch for the scores. By
        default what the step needs: the scores while the masker mines, the
        tokens for a target taken from the teacher; no pass for neither.

        Args:
            inputs (Tensor): Images (B, 3, H, W).
            with_scores (bool, optional): Return the predicted losses.
            with_tokens (bool, optional): Return the encoder tokens.

        Returns:
            tuple[Tensor | None, Tensor | None]: Scores (B, L) in fp32 and
            encoder tokens (B, 1 + L, C), cls first; None where not asked
            for. No gradient.
        """
        if with_scores is None:
            with_scores = self.masker.mines
        if with_tokens is None:
            with_tokens = self.with_target_generator and \
                self.target_generator.from_teacher
        if not (with_scores or with_tokens):
            return None, None
        net = self.teacher.module
        cast = torch.autocast(inputs.device.type, dtype=self.teacher_dtype) \
            if self.teacher_dtype is not None else nullcontext()
        scores = None
        with cast:
            tokens = net.backbone(inputs, mask=None)[-1]
            if with_scores:
                scores = net.neck.predict_loss(net.neck.embed(tokens)).float()
        return scores, tokens if with_tokens else None

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``BaseSelfSupervisor.forward``; ``mode='loss'`` first sets
        ``alpha_t`` and lists the model for its teacher's updates (see the
        class doc)."""
        if mode == 'loss':
            self.masker.update_alpha()
            if not _STEP_HOOK:
                _STEP_HOOK.append(
                    register_optimizer_step_post_hook(_update_teachers))
            _TRAINING.add(self)
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs: Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """One HPM step.

        Args:
            inputs (Tensor): Normalised images (B, 3, H, W).
            data_samples (list[DataSample]): Unused.

        Returns:
            dict[str, Tensor]: ``loss_rec``, ``loss_pred`` (optimised),
            ``rank_acc`` and ``alpha`` (logged).
        """
        # The teacher predicts every patch's reconstruction loss (B, L) on
        # the full image; it does not run while alpha_t * M < 1.
        scores, tokens = self.teacher_forward(inputs)
        # Mask the int(alpha_t * M) highest-scored patches, the rest of the
        # M at random.
        mask = self.masker(scores, inputs.shape[0], inputs.device)
        # The student encodes the visible patches; its decoder reconstructs
        # every patch and predicts every patch's loss.
        latent, mask, ids_restore = self.backbone(inputs, mask)
        pred, pred_scores = self.neck(latent, ids_restore)
        # Reconstruction loss of the masked patches, and the predictor
        # trained on those losses.
        target = self.target_generator(inputs, tokens) \
            if self.with_target_generator else inputs
        losses = self.head.loss(pred, pred_scores, target, mask)
        losses['alpha'] = self.masker.alpha_t.clone()
        return losses
