"""Hard Patches Mining for masked image modeling (Wang et al., CVPR 2023)."""
from contextlib import nullcontext
from typing import Dict, List, Optional

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..utils import float_drop_path_probs


def init_mae_weights(module: nn.Module) -> None:
    """MAE's initialisation of Linear and LayerNorm layers.

    Xavier-uniform Linear weights with zero biases, LayerNorm (1, 0). Applied
    after mmpretrain's own ``init_weights`` (which gives FFN biases a tiny
    random init) so that the start matches the released code.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@MODELS.register_module()
class HPM(BaseSelfSupervisor):
    """Hard Patches Mining.

    One training step (:meth:`loss`): the teacher (an EMA of the student)
    scores every patch of the unmasked image; the masker masks the hardest
    ``n_hard`` of them plus random ones; the student encodes the visible
    patches and its decoder both reconstructs the pixels and predicts the
    per-patch reconstruction loss. The teacher is updated after every
    optimizer step by :class:`HPMTeacherHook`.

    Args:
        backbone (dict): :class:`HPMViT` config.
        neck (dict): :class:`HPMDecoder` config.
        head (dict): :class:`HPMHead` config.
        masker (dict): :class:`HardPatchMasker` config.
        teacher (dict): :class:`HPMTeacherEMA` config (without ``model``).
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
                 teacher_dtype: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if neck is None or head is None:
            raise ValueError('HPM: neck and head are required')
        if self.neck.num_patches != self.backbone.num_patches:
            raise ValueError(
                f'HPM: neck.num_patches {self.neck.num_patches} != backbone '
                f'patches {self.backbone.num_patches}')
        dtypes = {None: None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
        if teacher_dtype not in dtypes:
            raise ValueError("HPM: teacher_dtype must be None, 'bf16' or "
                             f"'fp16', got {teacher_dtype!r}")
        self.teacher_dtype = dtypes[teacher_dtype]
        self.masker = MODELS.build(masker)
        float_drop_path_probs(self)  # before the teacher copies them
        self.teacher = MODELS.build(
            dict(teacher, model=self.student_modules()))
        self._train_steps_in_process = 0

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

    def extract_feat(self, inputs: Tensor) -> tuple:
        """Encode all patches (no mask); outputs of :class:`HPMViT`."""
        return self.backbone(inputs, mask=None)

    @torch.no_grad()
    def teacher_scores(self, inputs: Tensor) -> Tensor:
        """Teacher's predicted loss of every patch of the unmasked image.

        Runs the teacher's encoder on all L patches and only its
        loss-predictor branch (never the reconstructor).

        Args:
            inputs (Tensor): Images (B, 3, H, W).

        Returns:
            Tensor: Scores (B, L), no gradient.
        """
        net = self.teacher.module
        cast = torch.autocast(inputs.device.type, dtype=self.teacher_dtype) \
            if self.teacher_dtype is not None else nullcontext()
        with cast:
            tokens = net.backbone(inputs, mask=None)[-1]
            scores = net.neck.predict_loss(net.neck.embed(tokens))
        return scores.float()

    #: Steps after which a teacher that was never updated is an error.
    TEACHER_CHECK_STEPS = 200

    @torch.compiler.disable
    def _check_teacher_updates(self) -> None:
        """Fail if training runs without :class:`HPMTeacherHook`.

        Not traced by ``torch.compile``: the step counter is a Python int
        that would otherwise recompile :meth:`loss` at every step.
        """
        self._train_steps_in_process += 1
        if (self._train_steps_in_process > self.TEACHER_CHECK_STEPS
                and self.teacher.updates_in_process == 0):
            raise RuntimeError(
                f'HPM: {self.TEACHER_CHECK_STEPS} training steps and the '
                "teacher was never updated; add dict(type='HPMTeacherHook') "
                'to custom_hooks')

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
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        self._check_teacher_updates()
        B = inputs.shape[0]
        L, M = self.backbone.num_patches, self.backbone.num_masked
        alpha = self.masker.alpha
        n_hard = self.masker.num_hard(M, alpha)
        scores = self.teacher_scores(inputs) if n_hard > 0 else None
        mask = self.masker(scores, M, n_hard, B, L, device=inputs.device)

        latent, mask, ids_restore = self.backbone(inputs, mask)
        pred, pred_scores = self.neck(latent, ids_restore)
        losses = self.head.loss(pred, pred_scores, inputs, mask, M)
        # a fill kernel, not a host-to-device copy (no sync on CUDA)
        losses['alpha'] = inputs.new_full((), alpha)
        return losses
