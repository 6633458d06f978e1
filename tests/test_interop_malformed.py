"""Wrong, truncated and malformed motion files: each gives a MotionFormatError that says what is wrong."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from flap.errors import MotionFormatError
from flap.interop import import_motion

T = 20
EXP = np.random.default_rng(0).normal(size=(T, 50))
POSE = np.zeros((T, 6))


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


CASES = {
    "empty file": (lambda p: _write(p / "e.npz", b""), r"e\.npz: the file is empty"),
    "text renamed .npz": (lambda p: (p / "t.npz").write_text("exp,pose\n1,2\n") and p / "t.npz", r"not a readable \.npz archive: it looks like a text file"),
    "truncated npz": (lambda p: _truncate(write_npz(p / "c.npz", exp=EXP, pose=POSE), 0.6), r"c\.npz.*(truncated|not a readable)"),
    "NaN in exp": (lambda p: write_npz(p / "n.npz", exp=np.where(np.arange(T)[:, None] == 7, np.nan, EXP), pose=POSE), r"'exp' contains NaN or Inf \(first at frame 7\)"),
    "Inf in pose": (lambda p: write_npz(p / "i.npz", exp=EXP, pose=np.full((T, 6), np.inf)), r"'pose' contains NaN or Inf"),
    "wrong pose width": (lambda p: write_npz(p / "w.npz", exp=EXP, pose=np.zeros((T, 7))), r"'pose' has shape \(20, 7\); expected \(frames, 6\) = global \+ jaw"),
    "wrong jaw width": (lambda p: write_npz(p / "j.npz", exp=EXP, jaw_pose=np.zeros((T, 5))), r"'jaw_pose' has shape \(20, 5\); expected"),
    "mismatched lengths": (lambda p: write_npz(p / "m.npz", exp=EXP, pose=np.zeros((T - 3, 6))), r"disagree on the number of frames \('exp' 20, 'pose' 17\)"),
    "degrees in radians field": (lambda p: write_npz(p / "d.npz", exp=EXP, global_pose=np.tile([0, 25.0, 0], (T, 1))), r"'global_pose' has a rotation of 25 .*are the values degrees"),
    "degrees in jaw": (lambda p: write_npz(p / "dj.npz", exp=EXP, jaw_pose=np.tile([12.0, 0, 0], (T, 1))), r"'jaw_pose' .*beyond 1.00 radians: are the values degrees"),
    "only unknown keys": (lambda p: write_npz(p / "u.npz", foo=EXP, bar=POSE), r"not a motion layout FLAP knows \(it holds: bar, foo\)"),
    "text values": (lambda p: write_npz(p / "s.npz", exp=np.array([["a"] * 50] * T), pose=POSE), r"'exp' must hold numbers"),
    "huge expression": (lambda p: write_npz(p / "h.npz", exp=EXP * 1000), r"'exp' has values up to .*not a FLAME expression array"),
    "batch of sequences": (lambda p: write_npz(p / "b.npz", exp=np.zeros((3, T, 50))), r"a batch of 3 sequences"),
    "zero frames": (lambda p: write_npz(p / "z.npz", exp=np.zeros((0, 50))), r"no frames"),
    "vertex sequence": (lambda p: (np.save(p / "v.npy", np.zeros((5, 5023, 3))), p / "v.npy")[1], r"FLAME vertex sequence"),
    "unknown array width": (lambda p: (np.save(p / "a.npy", np.zeros((5, 77))), p / "a.npy")[1], r"shape \(5, 77\) is not a known layout"),
    "1-D array": (lambda p: (np.save(p / "o.npy", np.zeros(10)), p / "o.npy")[1], r"shape \(10,\) is not a motion"),
    "pickle with code": (lambda p: (p / "x.pkl").write_bytes(pickle.dumps({"exp": _Evil()})) and p / "x.pkl", r"refused to load: .*'(posix|os|nt)\.system'"),
    "truncated pickle": (lambda p: (p / "tp.pkl").write_bytes(pickle.dumps({"exp": EXP, "pose": POSE})[:300]) and p / "tp.pkl", r"not a readable pickle.*truncated"),
    "truncated json": (lambda p: (p / "tj.json").write_text(json.dumps({"exp": EXP.tolist()})[:200]) and p / "tj.json", r"not valid JSON.*truncated"),
    "ragged json": (lambda p: (p / "rj.json").write_text(json.dumps({"exp": [[1, 2], [3]]})) and p / "rj.json", r"'exp' is not a regular numeric array"),
    "json frames with different keys": (lambda p: (p / "fk.json").write_text(json.dumps([{"exp": [0] * 50}, {"jaw_pose": [0, 0, 0]}])) and p / "fk.json", r"frame 1 .* different keys"),
    "bad fps": (lambda p: write_npz(p / "f.npz", exp=EXP, fps=np.array(0.0)), r"frame rate in 'fps'.*between 1 and 240"),
    "negative eyelid shape": (lambda p: write_npz(p / "el.npz", exp=EXP, eyelids=np.zeros((T, 3))), r"'eyelids' has shape \(20, 3\); expected \(frames, 2\)"),
    "not a rotation matrix": (lambda p: write_npz(p / "rm.npz", exp=EXP, global_pose=np.tile(2 * np.eye(3), (T, 1, 1))), r"not rotations"),
    "flap motion with wrong field": (lambda p: write_npz(p / "fm.npz", format=np.array("flap-motion"), fps=np.array(25.0), global_rotation=np.zeros((T, 3)), jaw=np.zeros((T, 2))), r"'jaw' must have shape"),
    "missing file": (lambda p: p / "nope.npz", r"motion file not found"),
}


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _truncate(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_gives_clear_error(tmp_path, case):
    make, pattern = CASES[case]
    path = make(tmp_path)
    with pytest.raises(MotionFormatError, match=pattern):
        import_motion(path)


def test_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MotionFormatError, match="has no per-frame files"):
        import_motion(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    np.save(mixed / "0.npy", {"exp": EXP[0]}, allow_pickle=True)
    with open(mixed / "1.pkl", "wb") as handle:
        pickle.dump({"exp": EXP[1]}, handle)
    with pytest.raises(MotionFormatError, match="mixes file types"):
        import_motion(mixed)
    keys = tmp_path / "keys"
    keys.mkdir()
    for i, payload in enumerate([{"exp": EXP[0], "pose": POSE[0]}, {"exp": EXP[1]}]):
        with open(keys / f"{i}.pkl", "wb") as handle:
            pickle.dump(payload, handle)
    with pytest.raises(MotionFormatError, match=r"1\.pkl has keys \['exp'\] but 0\.pkl has"):
        import_motion(keys)


def test_bad_arguments(tmp_path):
    path = write_npz(tmp_path / "ok.npz", exp=EXP, pose=POSE)
    with pytest.raises(MotionFormatError, match="unknown fit mode 'stretch'"):
        import_motion(path, fit="stretch")
    with pytest.raises(MotionFormatError, match="target_fps must be between"):
        import_motion(path, target_fps=0)
    with pytest.raises(MotionFormatError, match="num_frames must be at least 1"):
        import_motion(path, num_frames=0)


def test_unknown_keys_beside_known_ones_are_warned_not_fatal(tmp_path):
    path = write_npz(tmp_path / "extra.npz", exp=EXP, pose=POSE, mystery=np.zeros(3))
    _, report = import_motion(path)
    assert any("unknown keys ignored: mystery" in w for w in report.warnings)

