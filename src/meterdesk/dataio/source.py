"""The files of an import dataset (a directory or a .zip of CSV files) and reading them row by row.

Every file is read as a stream, never whole, so that it may hold millions of rows. A row's number
is the one a spreadsheet shows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

#: The files a dataset may contain, in the order they are validated and loaded.
SECTIONS = (
    "utility",
    "tariffs",
    "norms",
    "accounts",
    "residents",
    "meters",
    "verifications",
    "readings",
    "balances",
    "payments",
)

csv.field_size_limit(1_000_000)

#: Characters no text of a dataset may hold: the control characters but tab and line breaks
#: (a spreadsheet cell may hold several lines). PostgreSQL refuses a NUL in text, and none of
#: them means anything in a name, an address or an id.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the dataset: where (file, row, column), what (in words), and a
    stable ``code`` for programs (empty for the problems of a file as a whole)."""

    file: str
    row: int | None
    field: str
    message: str
    value: str | None = None
    code: str = ""

    @property
    def shown_value(self) -> str:
        """The value as text that a terminal or a spreadsheet shows: control characters (a NUL)
        escaped, as Python writes them (``\\x00``)."""
        if not self.value:
            return ""
        return CONTROL_CHARACTERS.sub(lambda m: repr(m[0])[1:-1], self.value)

    def __str__(self) -> str:
        place = self.file if self.row is None else f"{self.file}:{self.row}"
        column = f" {self.field}:" if self.field else ""
        shown = f" (got {self.value!r})" if self.value not in (None, "") else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{place}:{column} {self.message}{shown}{code}"


@dataclass(frozen=True)
class Column:
    name: str
    required: bool = False  # the column must be in the header
    aliases: tuple[str, ...] = ()


@dataclass
class Dataset:
    """The CSV files of a dataset, by section name. Open one with ``dataset_open``."""

    path: Path
    files: dict[str, Callable[[], IO[bytes]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # files that are not CSV
    names: dict[str, str] = field(default_factory=dict)  # section -> the file's own name
    _zip: zipfile.ZipFile | None = None

    def display(self, section: str) -> str:
        return self.names.get(section, f"{section}.csv")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dataset_open(path: str | Path) -> Dataset:
    """The dataset at ``path``: a directory of CSV files, or a .zip of them (at its top level or
    in one folder). A file whose name is not a known section is a problem (a typo would otherwise
    silently load nothing)."""
    path = Path(path)
    dataset = Dataset(path)
    names: list[tuple[str, Callable[[], IO[bytes]]]] = []
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.is_file() and not child.name.startswith("."):
                names.append((child.name, _file_opener(child)))
    elif zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        dataset._zip = archive
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and not info.filename.startswith("__MACOSX/")
            and not PurePosixPath(info.filename).name.startswith(".")
        ]
        folders = {
            str(PurePosixPath(m.filename).parent) for m in members if m.filename.lower().endswith(".csv")
        }
        if len(folders) > 1:
            dataset.problems.append(
                Problem(
                    path.name,
                    None,
                    "",
                    f"the files must be in one folder of the archive, found {sorted(folders)}",
                    code="files_in_several_folders",
                )
            )
        for info in members:
            names.append((PurePosixPath(info.filename).name, _zip_opener(archive, info.filename)))
    else:
        dataset.problems.append(
            Problem(
                path.name, None, "", "not a directory or a .zip archive of CSV files", code="not_a_dataset"
            )
        )
        return dataset
    for name, opener in names:
        stem, dot, ext = name.rpartition(".")
        section = stem.lower() if dot else ""
        if not dot or ext.lower() != "csv":
            dataset.ignored.append(name)  # a README, a manifest: not data
            continue
        if section not in SECTIONS:
            dataset.problems.append(
                Problem(
                    name,
                    None,
                    "",
                    f"unknown file: expected some of {', '.join(s + '.csv' for s in SECTIONS)}",
                    code="unknown_file",
                )
            )
            continue
        if section in dataset.files:
            dataset.problems.append(
                Problem(name, None, "", "a second file for the same section", code="second_file")
            )
            continue
        dataset.files[section] = opener
        dataset.names[section] = name
    if not dataset.files and not dataset.problems:
        dataset.problems.append(Problem(path.name, None, "", "no CSV files found", code="no_csv_files"))
    return dataset


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _zip_opener(archive: zipfile.ZipFile, name: str) -> Callable[[], IO[bytes]]:
    return lambda: archive.open(name)


@dataclass
class Header:
    """The columns found in a file's header, by normalised name."""

    index: dict[str, int]
    width: int


def _detect_delimiter(line: str) -> str:
    for candidate in (";", "\t", ","):
        if candidate in line:
            return candidate
    return ","


def rows_read(
    dataset: Dataset, section: str, columns: Sequence[Column], problems: list[Problem]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: stripped text}) for every non-empty data row of a section's file.

    The delimiter is ``;``, ``,`` or a tab, whichever the header uses; the encoding is UTF-8 (with
    or without a byte-order mark). Problems with the file as a whole (unknown or missing columns,
    not UTF-8) are appended to ``problems``; a file whose header is unusable yields no rows.
    Empty cells are left out of the dict.
    """
    opener = dataset.files.get(section)
    if opener is None:
        return
    name = dataset.display(section)
    with opener() as raw:
        stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        row_no = 1
        try:
            first = stream.readline()
            if not first.strip():
                problems.append(
                    Problem(
                        name, 1, "", "the file is empty: the first row must be the header", code="empty_file"
                    )
                )
                return
            delimiter = _detect_delimiter(first)
            header_cells = next(csv.reader([first], delimiter=delimiter))
            header = _header(name, header_cells, columns, problems)
            if header is None:
                return
            reader = csv.reader(stream, delimiter=delimiter)
            for cells in reader:
                row_no += 1
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > header.width and any(c.strip() for c in cells[header.width :]):
                    problems.append(
                        Problem(
                            name,
                            row_no,
                            "",
                            f"{len(cells)} values but the header has {header.width} columns "
                            f"(a '{delimiter}' inside a value must be in double quotes)",
                            code="too_many_values",
                        )
                    )
                    continue
                values = {}
                for column, position in header.index.items():
                    if position < len(cells):
                        cell = cells[position].strip()
                        if cell:
                            values[column] = cell
                yield row_no, values
        except UnicodeDecodeError:
            problems.append(
                Problem(
                    name,
                    row_no + 1,
                    "",
                    "not UTF-8 text (in a spreadsheet, save as “CSV UTF-8”)",
                    code="not_utf8",
                )
            )
        except csv.Error as exc:
            problems.append(
                Problem(name, row_no + 1, "", f"not a readable CSV row: {exc}", code="not_a_csv_row")
            )


def _header(name: str, cells: list[str], columns: Sequence[Column], problems: list[Problem]) -> Header | None:
    known: dict[str, str] = {}
    for column in columns:
        known[column.name] = column.name
        for alias in column.aliases:
            known[alias] = column.name
    index: dict[str, int] = {}
    ok = True
    for position, cell in enumerate(cells):
        label = cell.strip().lower()
        if not label:
            continue
        column_name = known.get(label)
        if column_name is None:
            problems.append(
                Problem(
                    name,
                    1,
                    label,
                    f"unknown column: expected some of {', '.join(c.name for c in columns)}",
                    code="unknown_column",
                )
            )
            ok = False
        elif column_name in index:
            problems.append(Problem(name, 1, label, "the column appears twice", code="duplicate_column"))
            ok = False
        else:
            index[column_name] = position
    for column in columns:
        if column.required and column.name not in index:
            problems.append(
                Problem(
                    name, 1, column.name, "required column is missing from the header", code="missing_column"
                )
            )
            ok = False
    return Header(index, len(cells)) if ok else None
