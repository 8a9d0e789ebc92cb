"""Bytes → text for the text formats: byte-order marks, UTF-8, GB18030, then detection."""

from __future__ import annotations

import codecs

__all__ = ["DecodeFailure", "decode_bytes"]


class DecodeFailure(Exception):
    """Raised by ``decode_bytes`` with the reason a file cannot be read as text."""


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    sample = text[:20000]
    bad = sum(1 for c in sample if (ord(c) < 32 and c not in "\n\r\t\f") or c == "\ufffd")
    return bad / len(sample)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes by BOM, then strict UTF-8, then GB18030, then detection.

    Returns ``(text, encoding)`` with line endings normalised to ``\\n``.
    Raises ``DecodeFailure`` for binary or undecodable content.
    """
    text = None
    encoding = ""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(enc)
                encoding = enc
            except UnicodeDecodeError as e:
                raise DecodeFailure(f"invalid {enc} after its byte-order mark at byte {e.start}") from None
            break
    if text is None:
        if b"\x00" in data[:8192]:
            raise DecodeFailure("binary content (NUL bytes) and no UTF-16 byte-order mark")
        try:
            text = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            # UTF-8 with a few damaged bytes (a truncated download, a bad copy): keep the text,
            # with U+FFFD where the bytes were, rather than losing the whole file.
            text = data.decode("utf-8", errors="replace")
            encoding = "utf-8 (damaged bytes replaced)"
            if text.count("\ufffd") * 200 > len(text):  # more than 0.5%: another encoding
                text = None
        if text is None:
            try:
                text = data.decode("gb18030")
                encoding = "gb18030"
            except UnicodeDecodeError:
                text = None
            if text is not None and not _plausible_chinese(text):
                text = None
            if text is None:
                from charset_normalizer import from_bytes

                best = from_bytes(data[: 1 << 20]).best()
                if best is None:
                    raise DecodeFailure("undecodable bytes: not UTF-8, UTF-16, GB18030 or another known encoding")
                try:
                    text = data.decode(best.encoding)
                except (UnicodeDecodeError, LookupError):
                    raise DecodeFailure(f"undecodable bytes (best guess {best.encoding} failed)") from None
                encoding = best.encoding
    if _control_ratio(text) > 0.01:
        raise DecodeFailure("binary content (control characters) in a text file")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding


def _plausible_chinese(text: str) -> bool:
    """GB18030 decodes many byte strings; accept it only when the result reads as text."""
    sample = text[:5000]
    if not sample:
        return True
    # Common characters (the unified block up to U+9FA5, as in GBK), ASCII and Chinese punctuation;
    # a wrong decoding yields rare ideographs and symbols instead.
    common = sum(1 for c in sample if "\u4e00" <= c <= "\u9fa5" or c.isascii() or c in "，。、；：？！“”‘’（）《》—…")
    return common / len(sample) > 0.9
