"""Config mistakes, each reported in one line that names the key or line.

* :func:`describe_syntax_error`: a config file (or one of its ``_base_``
  files) that does not parse, as ``configs/x.py:12: invalid syntax``.
* :func:`check_model_config`: every ``type=`` node under ``model`` against
  the signature of the class it names, before anything is built: a key
  the class does not take (with the closest valid name) and a non-numeric
  string for a numeric argument.
* :func:`naming_the_key`: while the model is built, a value its class
  refuses (``alpha_max=1.5``) and a type no registry holds are reported
  under the config key they came from.
All raise :class:`hpm_mm.errors.ConfigError`.
"""
import ast
import difflib
import inspect
import os.path as osp
import re
import textwrap
import traceback
from contextlib import contextmanager
from types import TracebackType
from typing import Dict, Iterator, Optional, Tuple

from mmengine.config import Config

from ..errors import ConfigError


# ---- a config file that does not parse -----------------------------------

def _config_file_of(tb: Optional[TracebackType]) -> Optional[str]:
    """The file mmengine's ``Config`` was reading when ``tb`` was raised.

    mmengine parses each config file (and each ``_base_`` file, in turn)
    without passing its name to :func:`ast.parse`; the innermost frame of
    ``mmengine/config/config.py`` holds it as ``filename``.
    """
    found = None
    while tb is not None:
        frame = tb.tb_frame
        name = frame.f_locals.get('filename')
        if frame.f_code.co_filename.endswith(
                osp.join('mmengine', 'config', 'config.py')) and isinstance(
                    name, str):
            found = name
        tb = tb.tb_next
    return found


def describe_syntax_error(err: SyntaxError, path: str) -> str:
    """``FILE:LINE: MESSAGE`` of a config that does not parse.

    Args:
        err (SyntaxError): What ``Config.fromfile(path)`` raised.
        path (str): The config file given to the tool.

    Returns:
        str: e.g. ``configs/x.py:12: '(' was never closed``; the file is
        ``path`` or the ``_base_`` file with the mistake.
    """
    cause = err
    while cause.lineno is None and isinstance(cause.__context__,
                                              SyntaxError):
        cause = cause.__context__  # mmengine's re-raise hides the line
    name = cause.filename if cause.filename not in (None, '<unknown>') \
        else _config_file_of(err.__traceback__)
    if name is None or osp.abspath(name) == osp.abspath(path):
        name = path
    elif not osp.relpath(name).startswith('..'):
        name = osp.relpath(name)  # a _base_ file under the working dir
    else:
        name = osp.normpath(name)
    where = f'{name}:{cause.lineno}' if cause.lineno else name
    return f'{where}: {" ".join(str(cause.msg).split())}'


# ---- model entries against the signatures of their classes ---------------

#: Keys mmengine's registry reads itself.
_REGISTRY_KEYS = ('type', '_scope_')


def _module_configs(node, where: str, scope: Optional[str]
                    ) -> Iterator[Tuple[str, dict, Optional[str]]]:
    """Yield ``(key, config, scope)`` of every ``type=`` dict under ``node``.

    ``*_cfg``/``*_cfgs`` entries (``norm_cfg``, ``init_cfg``, mmdet's
    ``train_cfg``, ...) are skipped: their builders pop keys of their own
    (``requires_grad``) or use other registries.
    """
    if isinstance(node, dict):
        scope = node.get('_scope_', scope)
        if node.get('type') is not None:
            yield where, node, scope
        for key, val in node.items():
            if key not in _REGISTRY_KEYS and not key.endswith(
                    ('_cfg', '_cfgs')):
                yield from _module_configs(val, f'{where}.{key}', scope)
    elif isinstance(node, (list, tuple)):
        for i, val in enumerate(node):
            yield from _module_configs(val, f'{where}[{i}]', scope)


def _registered_class(obj_type, scope: Optional[str]) -> Optional[type]:
    """The class a model config's ``type`` names, or None if not found."""
    if inspect.isclass(obj_type):
        return obj_type
    if not isinstance(obj_type, str):
        return None
    from mmengine.registry import MODELS
    try:
        with MODELS.switch_scope_and_registry(scope) as registry:
            found = registry.get(obj_type)
    except Exception:  # noqa: BLE001  (left to the Runner's build)
        return None
    return found if inspect.isclass(found) else None


def _is_super_init(call: ast.Call) -> bool:
    """``super().__init__(...)`` or ``super(Cls, self).__init__(...)``."""
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr == '__init__' \
        and isinstance(func.value, ast.Call) \
        and isinstance(func.value.func, ast.Name) \
        and func.value.func.id == 'super'


def _forwards_kwargs_to_super(init, kwargs_name: str) -> bool:
    """Whether ``init`` passes ``**kwargs_name`` to ``super().__init__``
    and uses it nowhere else (no ``kwargs.pop('x')``)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return False
    uses = forwarded = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == kwargs_name:
            uses += 1
        elif isinstance(node, ast.Call) and _is_super_init(node):
            forwarded += sum(
                kw.arg is None and isinstance(kw.value, ast.Name)
                and kw.value.id == kwargs_name for kw in node.keywords)
    return uses == 1 and forwarded == 1


def _init_parameters(cls: type) -> Optional[Dict[str, inspect.Parameter]]:
    """The keyword arguments ``cls(...)`` takes, or None if unknowable.

    ``**kwargs`` that a class only forwards to ``super().__init__`` are
    followed up the MRO (``HPMViT`` takes ``MAEViT``'s arguments); any other
    ``**kwargs`` makes the set open (None).
    """
    params: Dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return None
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            return None
        var_kw = None
        for param in list(sig.parameters.values())[1:]:  # without self
            if param.kind == param.VAR_KEYWORD:
                var_kw = param.name
            elif param.kind in (param.POSITIONAL_OR_KEYWORD,
                                param.KEYWORD_ONLY):
                params.setdefault(param.name, param)
        if var_kw is None:
            return params
        if not _forwards_kwargs_to_super(init, var_kw):
            return None
    return None


_NUMBER_ANNOTATIONS = (int, float, Optional[int], Optional[float])


def _expects_number(param: inspect.Parameter) -> bool:
    """An ``int``/``float`` annotation, or no annotation and a float
    default."""
    ann = param.annotation
    if ann is param.empty:
        return type(param.default) is float
    if isinstance(ann, str):
        ann = ann.replace('typing.', '')
        return ann in ('int', 'float', 'Optional[int]', 'Optional[float]')
    return any(ann == t for t in _NUMBER_ANNOTATIONS)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_node(where: str, node: dict, cls: type,
                params: Dict[str, inspect.Parameter]) -> None:
    for key, val in node.items():
        if key in _REGISTRY_KEYS:
            continue
        if key not in params:
            close = difflib.get_close_matches(key, list(params), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ''
            raise ConfigError(f"{where}.{key}: {cls.__name__} takes no "
                              f"argument '{key}'{hint}")
        if isinstance(val, str) and _expects_number(params[key]) \
                and not _is_number(val):
            raise ConfigError(
                f'{where}.{key}: expected a number, got {val!r}')


def check_model_config(cfg: Config) -> None:
    """Check every module config under ``cfg.model`` before it is built.

    Each ``type=`` node (the model, its backbone, neck, head, masker,
    teacher, losses, target generator, and the modules of mmdet/mmseg
    models) is compared with the ``__init__`` signature of the class it
    names, resolved in ``cfg.default_scope`` as the Runner will. Classes
    whose arguments cannot be known (open ``**kwargs``) and types that are
    not found (an mmcv op is not in a registry) are left to the Runner.

    Args:
        cfg (Config): The config the Runner is about to be built from.

    Raises:
        ConfigError: ``model.masker.alpha_maxx: HardPatchMasker takes no
            argument 'alpha_maxx'; did you mean 'alpha_max'?`` or
            ``model.masker.alpha_max: expected a number, got 'abc'``.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return
    for where, node, scope in _module_configs(model, 'model',
                                              cfg.get('default_scope')):
        cls = _registered_class(node['type'], scope)
        params = _init_parameters(cls) if cls is not None else None
        if params is not None:
            _check_node(where, node, cls, params)


# ---- mistakes found while the model is built ----------------------------

#: What a module's ``__init__`` raises for a value it cannot take.
_VALUE_ERRORS = (ValueError, AssertionError)


def _modules_under_construction(tb: Optional[TracebackType]
                                ) -> Iterator[Tuple[type, dict]]:
    """``(class, arguments)`` of the ``__init__`` frames ``tb`` passes,
    innermost first; ``**kwargs`` are merged into the arguments."""
    frames = [frame for frame, _ in traceback.walk_tb(tb)]
    for frame in reversed(frames):
        args = frame.f_locals
        if frame.f_code.co_name != '__init__' or 'self' not in args:
            continue
        merged = dict(args)
        for val in args.values():
            if isinstance(val, dict):
                merged.update((k, v) for k, v in val.items()
                              if isinstance(k, str) and k not in merged)
        yield type(args['self']), merged


def _agreement(node: dict, args: dict) -> int:
    """How many of ``node``'s entries the constructor received as given."""
    same = 0
    for key, val in node.items():
        if key in _REGISTRY_KEYS or key not in args:
            continue
        try:
            same += bool(args[key] == val)
        except Exception:  # noqa: BLE001  (tensors and the like: unknown)
            pass
    return same


def describe_refused_value(cfg: Config, err: BaseException
                           ) -> Optional[str]:
    """The one line of a value a model module refused, naming its key.

    Args:
        cfg (Config): The config the model was built from.
        err (BaseException): A ``ValueError``/``AssertionError`` raised in
            the ``__init__`` of a class that a ``type=`` under ``cfg.model``
            names.

    Returns:
        str or None: ``model.masker.alpha_max: must be in [0, 1], got
        1.5`` when the message starts with the class and an argument
        given in the config, ``model.backbone: VisionTransformer: MESSAGE``
        otherwise; None when no config entry built the refusing class.
        Of several entries of one class, the one whose values the
        constructor received is named.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return None
    nodes = [(where, node, _registered_class(node['type'], scope))
             for where, node, scope in _module_configs(
                 model, 'model', cfg.get('default_scope'))]
    text = ' '.join(str(err).split()) or type(err).__name__
    for cls, args in _modules_under_construction(err.__traceback__):
        found = [(where, node) for where, node, klass in nodes
                 if klass is cls]
        if not found:
            continue
        where, node = max(found, key=lambda wn: _agreement(wn[1], args))
        prefix = f'{cls.__name__}: '
        words = text.split(' ', 2)
        if text.startswith(prefix) and len(words) == 3 and words[1] in node:
            return f'{where}.{words[1]}: {words[2]}'
        return f'{where}: {text if text.startswith(prefix) else prefix + text}'
    return None


#: The start of what mmengine's registry raises for a name it lacks.
_NOT_REGISTERED = re.compile(r'^(\S+) is not in the (\S+) registry')


def _unregistered_type_hint(obj_type: str, scope: Optional[str]) -> str:
    """The closest registered model name, or where else to look."""
    from mmengine.registry import MODELS, TASK_UTILS
    names = []
    for root in (MODELS, TASK_UTILS):
        with root.switch_scope_and_registry(scope) as registry:
            for reg in (registry, registry.parent):
                names += list(reg.module_dict) if reg is not None else []
    close = difflib.get_close_matches(obj_type.split('.')[-1], names, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return 'is its package in custom_imports?'


def describe_unregistered_type(cfg: Config, err: KeyError
                               ) -> Optional[str]:
    """The one line of a model entry whose type no registry holds.

    Args:
        cfg (Config): The config the model was built from.
        err (KeyError): What mmengine's ``build_from_cfg`` raised.

    Returns:
        str or None: ``model.masker.type: no module 'HardPatchMaskerr' in
        the mmpretrain::model registry; did you mean 'HardPatchMasker'?``;
        None for another KeyError or a type no ``cfg.model`` entry names.
    """
    found = _NOT_REGISTERED.match(str(err.args[0]) if err.args else '')
    model = cfg.get('model')
    if found is None or not isinstance(model, dict):
        return None
    obj_type, registry = found.groups()
    for where, node, scope in _module_configs(model, 'model',
                                              cfg.get('default_scope')):
        if node['type'] == obj_type:
            return (f'{where}.type: no module {obj_type!r} in the '
                    f'{registry} registry; '
                    f'{_unregistered_type_hint(obj_type, scope)}')
    return None


@contextmanager
def naming_the_key(cfg: Config) -> Iterator[None]:
    """Around the Runner's build: a model entry's mistake names its key.

    A constructor's check (``HardPatchMasker: alpha_max must be in [0, 1],
    got 1.5``) names its class but not the config key, and mmengine's
    registry answers a misspelt type with a ``KeyError``; both would end
    the tool in a traceback. They are reported as
    ``model.masker.alpha_max: must be in [0, 1], got 1.5`` and
    ``model.masker.type: no module 'HardPatchMaskerr' in the
    mmpretrain::model registry; did you mean 'HardPatchMasker'?``. Errors
    that no ``cfg.model`` entry explains pass through unchanged.

    Args:
        cfg (Config): The config the Runner is built from.

    Raises:
        ConfigError: For a refused value or an unregistered type of a
            ``cfg.model`` entry.
    """
    try:
        yield
    except ConfigError:
        raise  # already names its keys
    except KeyError as err:
        line = describe_unregistered_type(cfg, err)
        if line is None:
            raise
        raise ConfigError(line) from err
    except _VALUE_ERRORS as err:
        line = describe_refused_value(cfg, err)
        if line is None:
            raise
        raise ConfigError(line) from err


__all__ = [
    'ConfigError', 'check_model_config', 'describe_refused_value',
    'describe_syntax_error', 'describe_unregistered_type', 'naming_the_key'
]
