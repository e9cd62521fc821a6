"""What a file is, from its first bytes: shared by the loader and the DICOM reader.

It sits below both so that neither imports the other (the loader dispatches to the
DICOM reader, and the reader re-checks the preamble).
"""

from __future__ import annotations

HEAD_BYTES = 512


def sniff(head: bytes) -> str:
    """Return "DICOM", "PNG", "JPEG" or "" from the first bytes of a file."""
    # The 128-byte preamble may hold anything (even an executable header): DICM decides.
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "DICOM"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if _looks_like_bare_dicom(head):
        return "DICOM"
    return ""


def _looks_like_bare_dicom(head: bytes) -> bool:
    """A DICOM data set without preamble starts with a group 0x0002 or 0x0008 tag."""
    if len(head) < 8:
        return False
    group_le = int.from_bytes(head[0:2], "little")
    group_be = int.from_bytes(head[0:2], "big")
    if group_le in (0x0002, 0x0008) or group_be == 0x0008:
        vr = head[4:6]
        # explicit VR: two upper-case letters; implicit VR: a 4-byte length follows.
        return (vr.isalpha() and vr.isupper()) or int.from_bytes(head[4:8], "little") < 0x10000
    return False


def executable_preamble(head: bytes) -> str:
    """Name the executable format hidden in a DICOM preamble, or ""."""
    if head.startswith(b"MZ"):
        return "Windows executable"
    if head.startswith(b"\x7fELF"):
        return "ELF executable"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        return "Mach-O executable"
    return ""
