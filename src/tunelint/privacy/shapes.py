"""Shapes of sensitive values as plain regular expressions, importable without Presidio."""

from __future__ import annotations

import re

PHONE_PUNCTUATION = (
    "[-x\u2010-\u2015\u2212\u30fc\uff0d-\uff0f \u00a0\u00ad\u200b\u2060\u3000()"
    "\uff08\uff09\uff3b\uff3d.\\[\\]/~\u2053\u223c\uff5e]"
)

# Fewest digits a reported phone number has (checked by the recognizer): shorter runs are
# extensions, house numbers or prices, and dropping them is what keeps the prefilter cheap.
MIN_PHONE_DIGITS = 7

# A maximal run of digits holding at least MIN_PHONE_DIGITS of them, each pair separated by
# at most four punctuation characters: where a phone number's digits can be.
PHONE_DIGIT_RUN = re.compile(rf"\d(?:{PHONE_PUNCTUATION}{{0,4}}\d){{{MIN_PHONE_DIGITS - 1},}}")

__all__ = ["MIN_PHONE_DIGITS", "PHONE_DIGIT_RUN", "PHONE_PUNCTUATION"]
