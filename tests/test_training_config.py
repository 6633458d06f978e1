"""Training configs: YAML round trip, overrides, typo refusal, the example configs in configs/ load; the
controllability report's table and docs section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flap.training.config import TrainConfig
from flap.training.evaluation import DOC_END, DOC_START, Controllability, Measures, score, table, write_into_docs

REPO = Path(__file__).resolve().parents[1]


def test_yaml_round_trip_and_overrides(tmp_path):
    config = TrainConfig.from_dict({"stage": 2, "run": {"batch_size": 8}, "optim": {"learning_rate": 1}})
    assert config.stage == "2" and config.run.batch_size == 8 and config.optim.learning_rate == 1.0
    path = config.save_yaml(tmp_path / "c.yaml")
    again = TrainConfig.from_yaml(path, ["run.max_seconds=30", "data.root=/data/x", "run.resume=null", "stage=3"])
    assert again.run.max_seconds == 30.0 and again.data.root == "/data/x" and again.run.resume is None
    assert again.stage == "3" and again.run.batch_size == 8


def test_unknown_keys_and_bad_values_are_refused():
    with pytest.raises(ValueError, match="unknown key.*learning_rat"):
        TrainConfig.from_dict({"optim": {"learning_rat": 1e-4}})
    with pytest.raises(ValueError, match="stage must be one of"):
        TrainConfig.from_dict({"stage": 4})
    with pytest.raises(ValueError, match="frames_per_clip"):
        TrainConfig.from_dict({"stage": 3, "data": {"frames_per_clip": 1}})


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_load(path):
    config = TrainConfig.from_yaml(path)
    assert config.stage in ("1", "2", "3", "audio")


def test_score_counts_only_faces_where_the_person_is_and_writes_docs(tmp_path):
    n = 40
    rng = np.random.default_rng(0)
    euler = np.stack([np.linspace(-20, 20, n), np.linspace(-10, 10, n), np.zeros(n)], 1)
    jaw = np.abs(np.sin(np.arange(n) / 3)) * 0.3
    req = {"euler": euler, "jaw": jaw, "lids": np.zeros(n)}
    boxes = np.tile([60.0, 60.0, 190.0, 200.0], (n, 1))
    gt = Measures(np.ones(n, bool), euler + rng.normal(0, 1, (n, 3)), jaw * 0.8, np.full(n, 0.3), boxes)
    good = Measures(np.ones(n, bool), euler + rng.normal(0, 2, (n, 3)), jaw * 0.7, np.full(n, 0.3), boxes + 3)
    noise = Measures(np.ones(n, bool), rng.normal(0, 20, (n, 3)), rng.random(n), np.full(n, 0.3),
                     np.tile([0.0, 0.0, 40.0, 40.0], (n, 1)))
    rows = [score("ground_truth", gt, req, gt), score("stage3", good, req, gt), score("untrained", noise, req, gt)]
    assert rows[1].face_found == 1.0 and rows[1].yaw_r > 0.95 and rows[1].mouth_r > 0.95 and rows[1].pose_vs_gt < 4
    assert rows[2].face_found == 0.0 and rows[2].yaw_err is None  # landmarks in the wrong place: not a face
    text = table(rows)
    assert "n/a" in text and "100%" in text
    docs = tmp_path / "training.md"
    docs.write_text(f"# T\n\nbefore\n{DOC_START}\nold\n{DOC_END}\nafter\n")
    write_into_docs(docs, "NEW TABLE")
    body = docs.read_text()
    assert "NEW TABLE" in body and "old" not in body and body.endswith("after\n")
    assert isinstance(rows[0], Controllability)
