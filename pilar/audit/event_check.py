"""Verify the events against their seals, their MACs and the published head, reporting every break.

Each seal is checked against the seal before it as stored, and each event against its seal and
the stored hash of its stream's previous event, so that one altered row is one break, not a
cascade. Kinds, each at a position:

- `edited`: the event differs from what was sealed (state, actor, topic: any byte);
- `missing_event`: a sealed event is gone (or the event the published head names);
- `reordered`: a position holds another event than the one sealed there;
- `stream_gap`: a stream skips a version;
- `seal_chain`: a seal does not follow from the one before it (seals deleted or rewritten);
- `forged`: an event whose MAC does not hold (or that has none, past the store's MAC boundary):
  written by someone without the audit key, sealed or not;
- `missing_seals`: genuine events with no seal inside the sealed range (or before the published
  head): their seals were deleted; one break per run of positions;
- `truncated`: the published head names a position past the last stored event;
- `head_mismatch`: the seal at the published head's position is not the one published."""

from collections.abc import Iterator

from eventsourcing.persistence import ApplicationRecorder, Notification

from pilar.audit.hashing import chain_hash, event_hash
from pilar.audit.heads import Head
from pilar.audit.verification import Break, Verification
from pilar.cases import event_mac
from pilar.store.connection import Connection


def check_events(recorder: ApplicationRecorder, conn: Connection, key: bytes, result: Verification, *,
                 boundary: int, head: Head | None, batch_size: int) -> None:
    mac_key = event_mac.event_key(key)
    row = conn.one("SELECT MAX(position) FROM audit_seals")
    result.sealed_up_to = int(row[0]) if row and row[0] is not None else 0
    sealed_end = max(result.sealed_up_to, head.position if head else 0)
    last_hash: dict[str, str] = {}
    last_version: dict[str, int] = {}
    chain = ""
    run: list = []  # [first, last, count] of genuine events with no seal inside the sealed range
    last_event = 0
    at_head: dict[str, object] = {}

    def flush_run() -> None:
        if run:
            first, last, count = run
            result.add(Break("missing_seals", f"{count} event(s) at positions {first}-{last} have no seal, though "
                             f"the seals (or the published head) reach position {sealed_end}: their seals were "
                             "deleted", position=first, last_position=last if last != first else None))
            run.clear()

    events, seals = _events(recorder, batch_size), _seals(conn, batch_size)
    event, seal = next(events, None), next(seals, None)
    while event is not None or seal is not None:
        if seal is not None and (event is None or seal[0] <= event.id):
            position, s_stream, s_version, s_hash, s_chain = seal
            if head is not None and position == head.position:
                at_head["chain"] = s_chain
            if chain_hash(key, chain, position, s_hash) != s_chain:
                flush_run()
                result.add(Break("seal_chain", f"the seal at position {position} does not follow from the seal "
                                 "before it: seals were deleted or rewritten", s_stream, s_version, position))
            chain = s_chain
            if event is None or position < event.id:
                flush_run()
                result.add(Break("missing_event", f"the sealed event at position {position} (stream {s_stream}, "
                                 f"version {s_version}) is gone", s_stream, s_version, position))
                last_hash[s_stream], last_version[s_stream] = s_hash, s_version
                seal = next(seals, None)
                continue
        sealed = seal if seal is not None and seal[0] == event.id else None
        problem = _check(event, sealed, mac_key, boundary, last_hash, last_version)
        if problem is not None:
            flush_run()
            result.add(problem)
        elif sealed is None and event.id <= sealed_end:
            if run and run[1] == last_event:
                run[1], run[2] = event.id, run[2] + 1
            else:
                flush_run()
                run.extend([event.id, event.id, 1])
        elif sealed is None:
            result.unsealed += 1
        if head is not None and event.id == head.position:
            at_head["event"] = True
        result.checked += 1
        last_event = event.id
        event = next(events, None)
        if sealed is not None:
            seal = next(seals, None)
    flush_run()
    if head is not None:
        _check_head(head, result, at_head, last_event)


def _check(event: Notification, sealed: tuple | None, mac_key: bytes, boundary: int,
           last_hash: dict[str, str], last_version: dict[str, int]) -> Break | None:
    """The break at this event, if any (the most telling one), keeping the stream's last hash and version."""
    stream, version, position = str(event.originator_id), event.originator_version, event.id
    mac = event_mac.check(mac_key, event.originator_id, version, event.topic, event.state)
    genuine = mac is True or (mac is None and position <= boundary)
    expected = last_version.get(stream, 0) + 1
    hashed = event_hash(last_hash.get(stream, ""), stream, version, event.topic, event.state)
    if sealed is None:
        last_hash[stream], last_version[stream] = hashed, version
    else:
        _, s_stream, s_version, s_hash, _ = sealed
        # The seal says what the history held here: later events are checked against that.
        last_hash[s_stream], last_version[s_stream] = s_hash, s_version
        if (s_stream, s_version) != (stream, version):
            return Break("reordered", f"position {position} holds stream {stream} version {version}, but was "
                         f"sealed for stream {s_stream} version {s_version}", stream, version, position)
        if version != expected:
            return _gap(stream, expected, version, position)
        if hashed != s_hash:
            return Break("edited", f"stream {stream} version {version} differs from what was sealed",
                         stream, version, position)
    if sealed is None and version != expected and genuine:
        return _gap(stream, expected, version, position)
    if not genuine:
        why = "carries no MAC" if mac is None else "carries a MAC that does not hold"
        return Break("forged", f"stream {stream} version {version} ({event.topic.rsplit('.', 1)[-1]}) {why}: it "
                     "was not written by Pilar" + (" (and was sealed as it is)" if sealed else ""),
                     stream, version, position)
    return None


def _gap(stream: str, expected: int, version: int, position: int) -> Break:
    return Break("stream_gap", f"stream {stream} jumps from version {expected - 1} to {version}: "
                 "an event is missing", stream, version, position)


def _check_head(head: Head, result: Verification, at_head: dict, last_event: int) -> None:
    if "chain" in at_head:
        if at_head["chain"] != head.chain_hash:
            result.add(Break("head_mismatch", f"the seal at position {head.position} is not the one published "
                             f"at {head.at}: the seals were rewritten", position=head.position))
    elif last_event < head.position:
        result.add(Break("truncated", f"the head published at {head.at} reaches position {head.position}, but the "
                         f"stored events end at position {last_event}: the newest events were deleted",
                         position=head.position,
                         last_position=None))
    elif "event" not in at_head:
        result.add(Break("missing_event", f"the event at position {head.position}, named by the head published "
                         f"at {head.at}, is gone with its seal", position=head.position))
    # else: the event is there without its seal, reported as `missing_seals`


def _events(recorder: ApplicationRecorder, batch_size: int) -> Iterator[Notification]:
    position = 0
    while batch := recorder.select_notifications(start=position, limit=batch_size, inclusive_of_start=False):
        yield from batch
        position = batch[-1].id


def _seals(conn: Connection, batch_size: int) -> Iterator[tuple]:
    position = -1
    while rows := conn.all("SELECT position, stream_id, version, event_hash, chain_hash FROM audit_seals "
                           "WHERE position > ? ORDER BY position LIMIT ?", (position, batch_size)):
        for row in rows:
            yield (int(row[0]), row[1], int(row[2]), row[3], row[4])
        position = int(rows[-1][0])
