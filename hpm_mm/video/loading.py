"""Video opening that names the file of a missing, corrupt or short video."""
import os.path as osp
from typing import Dict

from mmaction.datasets.transforms import DecordInit
from mmaction.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CheckedDecordInit(DecordInit):
    """:class:`DecordInit` that refuses a bad video by name.

    A missing file, an empty or undecodable one, and a video with fewer
    than ``min_frames`` frames raise one line naming the file, e.g.
    ``corrupt video: PATH (decord: ...)`` or ``video too short: PATH has 5
    frames, the clip needs at least 16``, instead of decord's ``Error
    reading N bytes...``, which does not name the file.

    Short videos: mmaction's ``SampleFrames`` and the reference VideoMAE
    loader both accept a video shorter than the clip, by looping over it
    (``out_of_bound_opt='loop'``) or by repeating the last frame reached
    (the reference; ``'repeat_last'`` in mmaction); neither can make a
    clip of a video without frames. So ``min_frames`` defaults to that hard
    bound, 1; a config that wants only full-length clips sets it to
    ``clip_len * frame_interval``.

    Registered in mmaction's ``TRANSFORMS``: ``'CheckedDecordInit'`` in an
    mmaction config, ``'mmaction.CheckedDecordInit'`` in an mmpretrain one.

    Args:
        min_frames (int): The fewest frames a video may have. Defaults to 1.
        io_backend (str): As :class:`DecordInit`. Defaults to ``'disk'``.
        num_threads (int): As :class:`DecordInit`. Defaults to 1.
        **kwargs: The file client's arguments, as :class:`DecordInit`.
    """

    def __init__(self, min_frames: int = 1, io_backend: str = 'disk',
                 num_threads: int = 1, **kwargs) -> None:
        if isinstance(min_frames, bool) or not isinstance(min_frames, int) \
                or min_frames < 1:
            raise ValueError('CheckedDecordInit: min_frames must be a '
                             f'positive integer, got {min_frames!r}')
        super().__init__(io_backend=io_backend, num_threads=num_threads,
                         **kwargs)
        self.min_frames = min_frames

    def transform(self, results: Dict) -> Dict:
        """Open ``results['filename']`` as :class:`DecordInit` does and
        check its frame count.

        Args:
            results (dict): Holds ``filename``.

        Returns:
            dict: ``results`` with ``video_reader``, ``total_frames`` and
            ``avg_fps``.
        """
        from decord import DECORDError  # what DecordInit's reader raises
        filename = results['filename']
        if osp.splitext(filename)[0] == filename:
            filename += '.mp4'  # the name DecordInit opens
        try:
            results = super().transform(results)
        except FileNotFoundError:
            raise FileNotFoundError(f'video not found: {filename}') from None
        except (RuntimeError, DECORDError) as err:  # decord raises both
            reason = (str(err).strip().splitlines() or ['cannot decode'])[0]
            raise OSError(
                f'corrupt video: {filename} (decord: {reason})') from None
        if results['total_frames'] < self.min_frames:
            raise ValueError(
                f"video too short: {results['filename']} has "
                f"{results['total_frames']} frames, the clip needs at least "
                f'{self.min_frames}')
        return results
