"""Authors' released checkpoint <-> hpm_mm pretraining state dict."""
from dataclasses import dataclass, field
from typing import Any, List, Tuple

import torch

from .checkpoint import (CheckpointError, StateDict, split_checkpoint,
                         take_prefix)
from .fit import compare_state_dicts, summarize_keys
from .formats import HPM, RELEASED, detect_format
from .keymaps import STUDENT, rename

SOURCES = ('student', 'teacher')


@dataclass
class Conversion:
    """Result of a conversion.

    Attributes:
        state (dict): The converted state dict.
        source_format (str): Detected input format.
        unknown (list[str]): Input keys that were not converted.
        notes (list[str]): Decisions worth telling the user.
    """
    state: StateDict
    source_format: str
    unknown: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def check_source(source: str) -> None:
    """Raise if ``source`` is not 'student' or 'teacher'."""
    if source not in SOURCES:
        raise CheckpointError(
            f"source must be 'student' or 'teacher', got {source!r}")


def _same_shapes(a: StateDict, b: StateDict, what: str) -> None:
    mm = compare_state_dicts(a, b)
    if mm:
        raise CheckpointError(f'{what} differ in shape or keys: ' +
                              summarize_keys(mm.mis_shaped + mm.missing +
                                             mm.unexpected))


def released_to_hpm(obj: Any, source: str = 'student') -> Conversion:
    """Convert the authors' checkpoint into an :class:`HPM` state dict.

    Student/teacher policy:

    - ``source='student'``: the student (``backbone.*``, ``neck.*``) is the
      released ``state_dict``; the teacher is ``ema_state_dict``, or a copy
      of the student when the file has no EMA. This is the checkpoint to
      continue pre-training from.
    - ``source='teacher'``: student and teacher are both the released
      ``ema_state_dict``, so downstream tools reading ``backbone.*`` get the
      teacher's encoder.

    ``teacher.steps`` (the EMA update counter, used for logging only) is 0.

    Args:
        obj (Any): The loaded released checkpoint.
        source (str): 'student' or 'teacher'.

    Returns:
        Conversion: state with ``backbone.*``, ``neck.*``,
        ``teacher.module.{backbone,neck}.*`` and ``teacher.steps``.

    Raises:
        CheckpointError: Not a released checkpoint, no EMA for
            ``source='teacher'``, or student and teacher shapes differ.
    """
    check_source(source)
    main, ema = split_checkpoint(obj)
    fmt = detect_format(main)
    if fmt != RELEASED:
        raise CheckpointError(
            f'expected the released (timm-name) format, got {fmt!r}')
    if ema is not None and detect_format(ema) != RELEASED:
        raise CheckpointError("'ema_state_dict' is not in the released "
                              '(timm-name) format')
    notes = []
    if source == 'teacher':
        if ema is None:
            raise CheckpointError("source='teacher' needs 'ema_state_dict', "
                                  'which this checkpoint does not have')
        student_src, teacher_src = ema, ema
        notes.append('student and teacher both from ema_state_dict')
    else:
        student_src = main
        teacher_src = ema if ema is not None else main
        notes.append('student from state_dict, teacher from ' + (
            'ema_state_dict' if ema is not None else
            'state_dict (no ema_state_dict in the file)'))
    if ema is not None:
        _same_shapes(main, ema, 'state_dict and ema_state_dict')

    student, unknown = rename(student_src, STUDENT.right)
    teacher, unknown_t = rename(teacher_src, STUDENT.right)
    state = dict(student)
    state.update({f'teacher.module.{k}': v for k, v in teacher.items()})
    state['teacher.steps'] = torch.tensor(0, dtype=torch.long)
    unknown = sorted(set(unknown) | set(unknown_t))
    return Conversion(state, fmt, unknown, notes)


_TEACHER = 'teacher.module.'


def hpm_to_released(obj: Any) -> Tuple[Conversion, Conversion]:
    """Convert an :class:`HPM` checkpoint back into the authors' layout.

    The exact inverse of :func:`released_to_hpm` with ``source='student'``:
    the student (``backbone.*``, ``neck.*``) becomes the released
    ``state_dict`` and the teacher (``teacher.module.*``) its
    ``ema_state_dict``, both in timm/MAE names, so the file loads into the
    authors' code. ``teacher.steps`` has no released counterpart and is
    dropped.

    Args:
        obj (Any): A loaded hpm_mm pretraining checkpoint (or its state
            dict).

    Returns:
        tuple[Conversion, Conversion]: The student (``state_dict``) and the
        teacher (``ema_state_dict``); ``unknown`` lists the input keys that
        were not converted.

    Raises:
        CheckpointError: Not an hpm checkpoint, no teacher in it, or a
            student key without a released name.
    """
    main, _ = split_checkpoint(obj)
    fmt = detect_format(main)
    if fmt != HPM:
        raise CheckpointError(f'expected an hpm_mm pretraining checkpoint '
                              f'(backbone.*, neck.*), got format {fmt!r}')
    teacher_src = take_prefix(main, _TEACHER)
    if not teacher_src:
        raise CheckpointError('no teacher (teacher.module.*) in the hpm '
                              'checkpoint')
    student_src = {k: v for k, v in main.items()
                   if k.startswith(('backbone.', 'neck.'))}
    student, bad = rename(student_src, STUDENT.left)
    teacher, bad_t = rename(teacher_src, STUDENT.left)
    if bad or bad_t:
        names = sorted(set(bad) | {_TEACHER + k for k in bad_t})
        raise CheckpointError('no released name for: ' + ', '.join(names[:6])
                              + (' ...' if len(names) > 6 else ''))
    _same_shapes(student, teacher, 'student and teacher')
    rest = sorted(k for k in main
                  if k not in student_src and not k.startswith(_TEACHER))
    notes = ['state_dict from the student, ema_state_dict from the teacher']
    return (Conversion(student, fmt, rest, notes),
            Conversion(teacher, fmt, [], []))
