"""HPM's per-iteration schedule: the masker's alpha_t and the teacher."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class HPMTeacherHook(Hook):
    """Set ``alpha_t`` before each iteration; update the teacher after it.

    Before every training iteration the masker's mined fraction is advanced
    to the current epoch (or iteration), outside the model's step
    (:meth:`HardPatchMasker.update_alpha`). After every optimizer step the
    teacher is EMA-updated from the student. The teacher follows the
    optimizer's real steps, counted by a step post-hook on the optimizer:
    iterations that only accumulate gradients (gradient accumulation) and
    fp16 steps that the loss scaler skips
    because of inf/NaN gradients leave the teacher unchanged, so the
    teacher never averages towards a student that did not move. The
    momentum schedule uses the current (0-based) epoch.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self._steps = 0  # optimizer steps since the last teacher update
        self._handle = None

    def before_train(self, runner) -> None:
        """Check the model and start counting the optimizer's steps."""
        model = self._model(runner)
        if not all(hasattr(model, a)
                   for a in ('teacher', 'masker', 'student_modules')):
            raise TypeError('HPMTeacherHook: the model has no HPM teacher '
                            f'({type(model).__name__})')
        optimizer = getattr(runner.optim_wrapper, 'optimizer', None)
        if optimizer is None:
            raise TypeError('HPMTeacherHook: needs a single optimizer, got '
                            f'{type(runner.optim_wrapper).__name__}')
        if self._handle is not None:
            self._handle.remove()
        self._steps = 0
        self._handle = optimizer.register_step_post_hook(self._count_step)

    def _count_step(self, optimizer, args, kwargs) -> None:
        self._steps += 1

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Advance the masker's alpha_t to this iteration's progress."""
        self._model(runner).masker.update_alpha(runner.message_hub)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Average the student into the teacher if the optimizer stepped."""
        if self._steps == 0:
            return
        self._steps = 0
        model = self._model(runner)
        model.teacher.update(model.student_modules(), runner.epoch)

    def after_train(self, runner) -> None:
        """Stop counting (the optimizer may outlive this training run)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model
