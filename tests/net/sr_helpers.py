"""Walk an SR content tree the way a PACS viewer would, with plain pydicom."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(items: Any, depth: int = 0) -> Iterator[tuple[int, Any]]:
    for item in items:
        yield depth, item
        if "ContentSequence" in item:
            yield from walk(item.ContentSequence, depth + 1)


def concept(item: Any) -> str:
    code = item.ConceptNameCodeSequence[0]
    return f"{code.CodingSchemeDesignator}:{code.CodeValue}"


def find(ds: Any, name: str, within: str | None = None) -> list[Any]:
    """Items whose concept name is ``SCHEME:VALUE`` (anywhere, or inside the container ``within``)."""
    root = ds.ContentSequence
    if within is not None:
        root = next(i for _, i in walk(root) if concept(i) == within).ContentSequence
    return [i for _, i in walk(root) if concept(i) == name]


def value(item: Any) -> Any:
    kind = item.ValueType
    if kind == "NUM":
        return float(item.MeasuredValueSequence[0].NumericValue)
    if kind == "TEXT":
        return str(item.TextValue)
    if kind == "CODE":
        code = item.ConceptCodeSequence[0]
        return f"{code.CodingSchemeDesignator}:{code.CodeValue}"
    if kind == "PNAME":
        return str(item.PersonName)
    if kind == "IMAGE":
        ref = item.ReferencedSOPSequence[0]
        return (ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID)
    raise AssertionError(kind)
