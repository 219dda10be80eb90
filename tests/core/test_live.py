"""A job's stream never moves its progress backwards: a message published just before the stream read the current
state (so it arrives after it) is dropped, while a new attempt and a final state always go through."""

from webapp.core.live import NewestState


def _state(progress, attempt=1, finished=False):
    return {"attempt": attempt, "progress": progress, "finished": finished}


def test_an_update_older_than_the_first_state_is_dropped_and_newer_ones_pass():
    newest = NewestState(_state(50))
    assert not newest.admits(_state(25))  # published before the read, delivered after it
    assert newest.admits(_state(50))  # the same state again is harmless
    assert newest.admits(_state(75))
    assert not newest.admits(_state(50))


def test_a_new_attempt_starts_again_and_a_final_state_always_passes():
    newest = NewestState(_state(80))
    assert newest.admits(_state(0, attempt=2))  # the job was retried: its progress starts over
    assert newest.admits(_state(10, attempt=2))
    assert newest.admits(_state(5, attempt=1, finished=True))  # a final state ends the stream whatever it says
