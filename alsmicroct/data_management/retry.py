"""Retry policy shared by the SPOT requests and the download loop."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

__all__ = ["RetryPolicy"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: attempt ``k`` (0-based) waits ``backoff * 2**k`` seconds.

    Attributes
    ----------
    retries : int
        Retries after the first attempt (0 disables retrying).
    backoff : float
        First delay in seconds.
    max_backoff : float
        Upper bound of any delay, including a server's ``Retry-After``.
    """

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must be >= 0")

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``.

        Parameters
        ----------
        attempt : int
            Number of failed attempts so far, minus one.
        retry_after : str, optional
            Value of a ``Retry-After`` header (seconds); honoured up to ``max_backoff``.
        """
        wait = self.backoff * (2**attempt)
        if retry_after:
            with contextlib.suppress(ValueError):
                wait = max(wait, float(retry_after))
        return min(wait, self.max_backoff)

    def pause(self, attempt: int, what: str, reason: str, retry_after: str | None = None) -> None:
        """Log the failure and sleep before the next attempt."""
        wait = self.delay(attempt, retry_after)
        logger.warning("%s: %s; retry %d/%d in %.3g s", what, reason, attempt + 1, self.retries, wait)
        time.sleep(wait)
