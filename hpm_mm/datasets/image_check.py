"""Read every image of a dataset once, before a long run, and list the bad.

Used by ``tools/check_dataset.py``: each file goes through the same loader
as training (:class:`CheckedLoadImageFromFile`), so what is reported
unreadable here is exactly what would stop the run.
"""
from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Optional, Tuple

from .transforms import CheckedLoadImageFromFile


@dataclass
class ImageCheckReport:
    """Outcome of :func:`check_images`.

    Attributes:
        readable (int): Images that decode completely.
        unreadable (list[tuple[str, str]]): ``(path, reason)`` of the others.
        modes (dict[str, int]): Count of decoded channel layouts, e.g.
            ``{'3 channels': 10}`` (the loader makes every image 3-channel).
    """
    readable: int = 0
    unreadable: List[Tuple[str, str]] = field(default_factory=list)
    modes: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.readable + len(self.unreadable)


def check_images(paths: Iterable[str],
                 loader: Optional[dict] = None,
                 progress: Optional[Callable[[int], None]] = None
                 ) -> ImageCheckReport:
    """Decode every image and collect the ones that fail, without stopping.

    Args:
        paths (Iterable[str]): Image files (or URIs of mmengine backends).
        loader (dict, optional): Arguments of the config's
            :class:`CheckedLoadImageFromFile` (``backend_args``,
            ``imdecode_backend``, ``color_type``); defaults to its defaults.
        progress (callable, optional): Called with the running count.

    Returns:
        ImageCheckReport: Counts and the unreadable files with the reason.
    """
    load = CheckedLoadImageFromFile(**(loader or {}))
    report = ImageCheckReport()
    for i, path in enumerate(paths, 1):
        try:
            img = load(dict(img_path=path))['img']
        except (OSError, ValueError) as err:
            # FileNotFoundError is an OSError; mmcv raises ValueError too
            report.unreadable.append((path, str(err).splitlines()[0]))
        else:
            report.readable += 1
            mode = f'{img.shape[2] if img.ndim == 3 else 1} channels'
            report.modes[mode] = report.modes.get(mode, 0) + 1
        if progress is not None:
            progress(i)
    return report


def loader_args(pipeline: Iterable[dict]) -> dict:
    """Arguments of the image loader of a pipeline config (first step).

    Raises:
        ValueError: The pipeline does not start with an image loader.
    """
    pipeline = list(pipeline or [])
    first = dict(pipeline[0]) if pipeline else {}
    kind = str(first.pop('type', ''))
    if not kind.endswith('LoadImageFromFile'):
        raise ValueError('the pipeline does not start with an image loader '
                         f'(first step: {kind or "none"})')
    first.pop('_scope_', None)
    return first
