"""Bounded hand-offs between pipeline threads, carrying slot numbers (ints), never frames.

A ``Handoff`` either blocks the producer when full (never drop: files,
datasets) or evicts its oldest entry (latest frame wins: live cameras), and
hands the consumer everything waiting in one call so that the engine can work
on batches when it falls behind.
"""
from __future__ import annotations

import threading
from collections import deque
from itertools import islice

import numpy as np


class Closed(Exception):
    """The hand-off was closed while waiting."""


class Handoff:
    def __init__(self, capacity: int, drop_oldest: bool) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity, self.drop_oldest = capacity, drop_oldest
        self._items: deque[int] = deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._closed = False

    def put_many(self, items: list[int]) -> list[int]:
        """Queue ``items`` in order; return the items dropped to make room (oldest first), if dropping.
        Without dropping, waits until they all fit, or until the queue is empty for a block larger than it.
        Raises Closed."""
        with self._lock:
            while len(self._items) + len(items) > self.capacity and self._items and not self.drop_oldest \
                    and not self._closed:
                self._not_full.wait(0.1)
            if self._closed:
                raise Closed
            self._items.extend(items)
            evicted = []
            while self.drop_oldest and len(self._items) > self.capacity:
                evicted.append(self._items.popleft())
            self._not_empty.notify()
            return evicted

    def get_into(self, out: np.ndarray) -> int:
        """Move up to len(out) items into ``out``, waiting for at least one; raises Closed once closed and drained."""
        with self._lock:
            while not self._items and not self._closed:
                self._not_empty.wait()
            if not self._items:
                raise Closed
            n = min(len(out), len(self._items))
            out[:n] = np.fromiter(self._items, out.dtype, n)  # one C loop, not a Python step per frame
            if n == len(self._items):
                self._items.clear()
            else:
                self._items = deque(islice(self._items, n, None))
            self._not_full.notify()
            return n

    def close(self) -> None:
        """No more puts; getters drain what is left, then see Closed."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()


class SlotPool:
    """Free slot numbers of the pipeline's preallocated frame ring: a stack that hands out and takes
    back whole blocks of slots as arrays (the Offline benchmark moves hundreds of thousands a second)."""

    def __init__(self, size: int) -> None:
        self._free = np.arange(size, dtype=np.intp)
        self._count = size
        self._cond = threading.Condition()
        self._closed = False

    def acquire(self) -> int:
        """A free slot; waits while every slot is in flight. Raises Closed."""
        return int(self.acquire_many(1)[0])

    def acquire_many(self, n: int) -> np.ndarray:
        """``n`` free slots (no more than the ring holds); waits until that many are free. Raises Closed."""
        with self._cond:
            while self._count < n and not self._closed:
                self._cond.wait(0.1)
            if self._closed:
                raise Closed
            self._count -= n
            return self._free[self._count:self._count + n].copy()

    def release(self, slots: np.ndarray | list[int]) -> None:
        with self._cond:
            k = len(slots)
            self._free[self._count:self._count + k] = slots
            self._count += k
            self._cond.notify(k)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
