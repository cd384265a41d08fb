"""Hypothesis strategies for names, paths, bodies and trees Artifactory must store.

Names follow the reference's path rules (``artifactory-rest-api.md`` section 12): the
validator forbids ``\\ | * ? "``, segments made only of dots, a lone ``&`` and leading or
trailing whitespace. Everything else must round-trip, so the strategies over-weight the
characters that broke real clients (``; # % + & = @ :``, spaces, non-ASCII, emoji).
We also steer clear of names with a documented special meaning that is not a plain file:
``*.sha1``/``*.md5``/``*.sha256`` (checksum uploads), ``:properties`` and a trailing ``!``
(archive-entry notation when followed by ``/``).
"""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

#: A generated tree: ``(files, empty_folders)``, ``files`` mapping relative path to body.
Tree = tuple[dict[str, bytes], list[str]]

__all__ = [
    "HAZARD_NAMES",
    "bodies",
    "file_trees",
    "is_valid_name",
    "names",
    "paths",
]

#: Characters that historically broke Artifactory clients but are legal in names.
NASTY = list(" ;#%+&=@:,'$()[]{}~^!<>`") + ["ü", "é", "Ω", "中", "\U0001f600", "ß"]

#: Explicit, hand-picked names every round-trip test also runs as examples.
HAZARD_NAMES: tuple[str, ...] = (
    "semi;colon",
    "hash#tag",
    "per%cent",
    "per%20cent-looks-encoded",
    "plus+sign",
    "amp&and=eq",
    "at@sign",
    "with space",
    "colon:name",
    "dots.in.the.name.tar.gz",
    ".hidden",
    "..double-leading-dots",
    "Übungen-ü-中文-\U0001f600",
    "brackets[1]{2}",
    "x" * 200,
)

_FORBIDDEN = set('\\|*?"/')
_SPECIAL_SUFFIXES = (".sha1", ".md5", ".sha256", ":properties")

_plain_chars = st.characters(
    codec="utf-8",
    min_codepoint=0x20,
    max_codepoint=0x1FFFF,
    exclude_categories=("Cs", "Cc", "Cf", "Co", "Cn", "Zl", "Zp", "Zs"),
    exclude_characters="".join(_FORBIDDEN),
)
_name_chars = st.one_of(st.sampled_from(NASTY), st.sampled_from("abcxyz019._-"), _plain_chars)


def is_valid_name(name: str) -> bool:
    """True when the reference says Artifactory stores ``name`` as an ordinary file name."""
    return (
        bool(name)
        and not (_FORBIDDEN & set(name))
        and name.strip() == name
        and set(name) != {"."}
        and name != "&"
        and not name.lower().endswith(_SPECIAL_SUFFIXES)
        and not name.endswith("!")
        and unicodedata.normalize("NFC", name) == name
        and len(name.encode("utf-8")) <= 200
    )


def names(max_size: int = 40) -> st.SearchStrategy[str]:
    """One path segment Artifactory must store verbatim."""
    return st.text(_name_chars, min_size=1, max_size=max_size).filter(is_valid_name)


def paths(max_depth: int = 6) -> st.SearchStrategy[str]:
    """A relative path of 1..max_depth valid segments."""
    return st.lists(names(), min_size=1, max_size=max_depth).map("/".join)


def bodies(max_size: int = 2048) -> st.SearchStrategy[bytes]:
    """File contents, including the empty file."""
    return st.binary(min_size=0, max_size=max_size)


def _key(name: str) -> str:
    # Siblings must differ even on servers with case-insensitive databases.
    return unicodedata.normalize("NFKC", name).casefold()


@st.composite
def file_trees(
    draw: st.DrawFn, max_files: int = 8, max_depth: int = 4, max_body: int = 512
) -> Tree:
    """A consistent tree: ``(files, empty_folders)``, no name both a file and a folder.

    Segments are drawn from a small per-tree pool so siblings and shared parents are
    common, which is what makes listings interesting.
    """
    pool = draw(st.lists(names(24), min_size=2, max_size=6, unique_by=_key))
    segment = st.sampled_from(pool)
    raw = draw(
        st.lists(st.lists(segment, min_size=1, max_size=max_depth), min_size=1, max_size=max_files)
    )
    files: dict[str, bytes] = {}
    folders: set[str] = set()
    for parts in raw:
        path = "/".join(parts)
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if path in folders or path in files or any(p in files for p in prefixes):
            continue
        files[path] = draw(bodies(max_body))
        folders.update(prefixes)
    extra = draw(st.lists(st.lists(segment, min_size=1, max_size=2), max_size=2))
    empty: list[str] = []
    for parts in extra:
        path = "/".join(["_empty_", *parts])
        if (
            "_empty_" not in files
            and path not in files
            and not any(f.startswith(path + "/") for f in files)
        ):
            empty.append(path)
    return files, empty
