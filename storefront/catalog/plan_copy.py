"""Each worker's own copy of the plan listing, so that the plans page and the pricing JSON
cost no network round trip.

With the plan cache in Redis, a daemon thread per worker process subscribes to a channel on
which every commit that changes a plan publishes; a message drops the copy. The copy is used
only while that subscription is up: while it is starting, reconnecting or refused, every
request reads through to the shared cache as before, and a (re)subscription drops the copy,
so a message missed while away cannot leave the worker stale. A generation counter keeps a
listing read before a drop from being kept after it. With an in-process cache (one process)
the commit drops the copy directly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Any

import redis

log = logging.getLogger(__name__)
_POLL_SECONDS = 1.0  # how often the listening thread checks that its app still exists
_MAX_BACKOFF_SECONDS = 5.0


class PlanCopy:
    """One app's copy of the listing, trusted only while changes can be heard."""

    def __init__(self, lifetime: float, redis_url: str | None, channel: str) -> None:
        self.lifetime = lifetime
        self.redis_url = redis_url
        self.channel = channel
        self.generation = 0
        self.listening = redis_url is None  # in-process: commits drop the copy themselves
        self.closed = False
        self._entry: tuple[Any, float] | None = None
        self._lock = threading.Lock()
        self._pid: int | None = None if redis_url else os.getpid()

    def get(self) -> Any | None:
        """The kept listing, or None (nothing kept, expired, or changes not heard now)."""
        if self._pid != os.getpid() and self.redis_url:
            self._start()
        entry = self._entry
        if entry is None or not self.listening or entry[1] < time.monotonic():
            return None
        return entry[0]

    def keep(self, listing: Any, generation: int) -> None:
        """Keep a listing read since `generation` was current, unless a drop came since."""
        with self._lock:
            if self.listening and generation == self.generation:
                self._entry = (listing, time.monotonic() + self.lifetime)

    def drop(self) -> None:
        """Forget the listing; a read begun before this is not kept."""
        with self._lock:
            self.generation += 1
            self._entry = None

    def publish(self) -> None:
        """Tell every worker (this one included) to drop its copy; never raises."""
        self.drop()
        if self.redis_url is None:
            return
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            try:
                client.publish(self.channel, b"1")
            finally:
                client.close()
        except redis.RedisError as error:
            # Workers that miss this are disconnected and read through until they resubscribe.
            log.warning("plan change not announced on %s: %s", self.channel, error)

    def close(self) -> None:
        """Stop listening (the thread ends within a second)."""
        self.closed = True
        self._set_listening(False)

    def _set_listening(self, listening: bool) -> None:
        with self._lock:
            self.listening = listening
            self.generation += 1
            self._entry = None

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            # A new process (first use, or forked after its parent used it): nothing heard yet.
            self._pid = os.getpid()
            self.listening = False
            self.generation += 1
            self._entry = None
        threading.Thread(target=_listen, args=(weakref.ref(self), self.redis_url, self.channel),
                         name="plan-changes", daemon=True).start()


def _listen(ref: weakref.ref, url: str, channel: str) -> None:
    """Subscribe, drop the copy on each message; on any error, stop trusting the copy and
    reconnect with backoff. Logs once per change of state."""
    backoff, failing = 0.1, None
    while (copy := ref()) is not None and not copy.closed:
        del copy
        client = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=10)
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(channel)
            while (copy := ref()) is not None and not copy.closed:
                message = pubsub.get_message(timeout=_POLL_SECONDS)
                if message is None:
                    pass
                elif message["type"] == "subscribe":
                    copy._set_listening(True)
                    backoff = 0.1
                    if failing is not False:
                        log.info("listening for plan changes on %s", channel)
                        failing = False
                elif message["type"] == "message":
                    copy.drop()
                del copy
        except (redis.RedisError, OSError) as error:
            if (copy := ref()) is not None:
                copy._set_listening(False)
            del copy
            if failing is not True:
                log.warning("not listening for plan changes (%s): reading the plan cache "
                            "on every request until back", error)
                failing = True
            time.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
        finally:
            pubsub.close()
            client.close()
