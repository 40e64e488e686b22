"""Update the HPM teacher after every optimizer step."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class HPMTeacherHook(Hook):
    """EMA-update ``model.teacher`` from the student after each optimizer step.

    With gradient accumulation the update follows the optimizer: iterations
    that only accumulate gradients leave the teacher unchanged. The momentum
    schedule uses the current (0-based) epoch.
    """

    priority = 'NORMAL'

    def before_train(self, runner) -> None:
        """Check that the model is an HPM-style model with a teacher."""
        model = self._model(runner)
        if not hasattr(model, 'teacher') or not hasattr(
                model, 'student_modules'):
            raise TypeError('HPMTeacherHook: the model has no HPM teacher '
                            f'({type(model).__name__})')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Average the student into the teacher if the optimizer stepped."""
        if not runner.optim_wrapper.should_update():
            return
        model = self._model(runner)
        model.teacher.update(model.student_modules(), runner.epoch)

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model
