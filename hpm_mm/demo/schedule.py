"""The demos' iteration schedule, shrunk for a quick look."""
from mmengine.config import Config


def shrink_schedule(cfg: Config, iters: int) -> None:
    """Scale the iteration schedule of a demo config to ``iters``: warm-up
    (``param_scheduler[0]``) over the first 1/12, cosine
    (``param_scheduler[1]``) after it, one checkpoint at the end."""
    if iters < 2:
        raise SystemExit(f'demo: --iters must be >= 2, got {iters}')
    warm = max(1, iters // 12)
    cfg.train_cfg.max_iters = iters
    cfg.param_scheduler[0].end = warm
    cfg.param_scheduler[1].update(
        dict(begin=warm, T_max=iters - warm, end=iters))
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = max(1, min(20, iters // 10))
    cfg.log_processor.window_size = cfg.default_hooks.logger.interval
