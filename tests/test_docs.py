"""The documentation points at things that exist.

README.md, docs/**/*.md and configs/pretrain/README.md: every relative
link resolves to a file or folder of the repository (and its ``#anchor`` to
a heading of the linked markdown file), and every ``configs/...`` or
``tools/...`` path they name exists. README.md stays a landing page.
"""
import glob
import os.path as osp
import re
from typing import Dict, List, Set, Tuple

import pytest

from .conftest import ROOT

README_MAX_LINES = 250

#: ``[text](target)`` or ``[text](target "title")``; images too.
LINK = re.compile(r'\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
#: A repository path named in the text: not part of a longer path
#: (``mmpretrain/.mim/tools/`` or ``../../configs`` are not ours, or are
#: links, checked as such).
REPO_PATH = re.compile(r'(?<![\w./$<>-])((?:configs|tools)/[\w./*-]*)')
FENCE = re.compile(r'^\s*(```|~~~)')


def doc_files() -> List[str]:
    files = [osp.join(ROOT, 'README.md'),
             osp.join(ROOT, 'configs', 'pretrain', 'README.md')]
    files += sorted(glob.glob(osp.join(ROOT, 'docs', '**', '*.md'),
                              recursive=True))
    return files


def _rel(path: str) -> str:
    return osp.relpath(path, ROOT)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path: str) -> Set[str]:
    """The anchors of the headings of a markdown file (outside code)."""
    found: Set[str] = set()
    seen: Dict[str, int] = {}
    in_code = False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if FENCE.match(line):
                in_code = not in_code
                continue
            m = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
            if in_code or not m:
                continue
            slug = github_anchor(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f'{slug}-{n}')
    return found


def broken_links(path: str, root: str = ROOT) -> List[str]:
    """Relative links of ``path`` whose file or anchor does not exist, or
    that leave the repository ``root``."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    bad = []
    for target in LINK.findall(text):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target):  # http:, mailto:, ...
            continue
        file_part, _, anchor = target.partition('#')
        dest = (osp.normpath(osp.join(osp.dirname(path), file_part))
                if file_part else path)
        where = osp.relpath(dest, root)
        if where.startswith('..'):
            bad.append(f'{target} (outside the repository)')
        elif not osp.exists(dest):
            bad.append(f'{target} (no {where})')
        elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
            bad.append(f'{target} (no heading #{anchor} in {where})')
    return bad


def missing_paths(path: str) -> List[str]:
    """``configs/...`` and ``tools/...`` paths named in ``path`` that do
    not exist (a glob must match something)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    bad = []
    for name in REPO_PATH.findall(text):
        name = name.rstrip('.')
        full = osp.join(ROOT, name)
        ok = glob.glob(full) if '*' in name else osp.exists(full)
        if not ok:
            bad.append(name)
    return sorted(set(bad))


@pytest.mark.parametrize('path', doc_files(), ids=_rel)
def test_relative_links_resolve(path):
    bad = broken_links(path)
    assert not bad, f'{_rel(path)}: broken links: {"; ".join(bad)}'


@pytest.mark.parametrize('path', doc_files(), ids=_rel)
def test_named_configs_and_tools_exist(path):
    bad = missing_paths(path)
    assert not bad, f'{_rel(path)}: no such path: {", ".join(bad)}'


def test_every_docs_page_is_linked_from_the_index():
    index = osp.join(ROOT, 'docs', 'README.md')
    with open(index, encoding='utf-8') as f:
        linked = {osp.normpath(osp.join(osp.dirname(index), t.split('#')[0]))
                  for t in LINK.findall(f.read())}
    for page in glob.glob(osp.join(ROOT, 'docs', 'en', '*.md')):
        assert osp.normpath(page) in linked, _rel(page)


def _first_code_block(text: str) -> Tuple[int, List[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if FENCE.match(line))
    end = next(i for i in range(start + 1, len(lines))
               if FENCE.match(lines[i]))
    return start, [line.split('#')[0].strip() for line in lines[start + 1:end]]


def test_readme_is_a_landing_page_with_the_two_commands():
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    n = len(text.splitlines())
    assert n <= README_MAX_LINES, f'README.md has {n} lines'
    start, commands = _first_code_block(text)
    assert start < 5, 'the two commands come first'
    assert commands == ['make demo', 'make test']
    with open(osp.join(ROOT, '.ci', 'run'), encoding='utf-8') as f:
        assert 'make test' in f.read().split('\n', 2)[-1]


def test_checker_sees_a_broken_link_path_and_anchor(tmp_path):
    """The checks themselves: a missing file, a missing heading and a
    missing config are reported; existing ones are not."""
    page = tmp_path / 'page.md'
    page.write_text(
        '# Mixed precision: fp16 and bf16\n'
        '```\n# not a heading\n```\n'
        '[ok](#mixed-precision-fp16-and-bf16) [bad](#not-a-heading)\n'
        '[gone](missing.md) [web](https://example.org/x) [up](../x.md)\n'
        'run `tools/train.py configs/pretrain/hpm_vit-b.py` and '
        '`configs/pretrain/nope.py`, `configs/*/metafile.yml`, '
        '`configs/*/nothing.yml`; not ours: `mmpretrain/.mim/tools/x.py`\n',
        encoding='utf-8')
    assert broken_links(str(page), root=str(tmp_path)) == [
        '#not-a-heading (no heading #not-a-heading in page.md)',
        'missing.md (no missing.md)',
        '../x.md (outside the repository)',
    ]
    assert missing_paths(str(page)) == ['configs/*/nothing.yml',
                                        'configs/pretrain/nope.py']
