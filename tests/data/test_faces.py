"""Built-in faces (provenance, identities) and faces given as photo files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import MediaError, NoFaceError
from core.reaction.face_models import hog_detector
from data.face_sources import FACE_SOURCES
from data.faces import available_faces, face_gender, face_identity, landmarked_face, load_face
from data.reaction_video import ReactionSpec, reaction_landmarks, render_reaction

DOC = Path(__file__).resolve().parents[2] / "docs" / "synthetic_faces.md"


def test_every_built_in_face_has_provenance_and_is_in_the_doc() -> None:
    doc = DOC.read_text()
    names = [s.name for s in FACE_SOURCES]
    assert len(set(names)) == len(names)
    for source in FACE_SOURCES:
        assert source.identity and source.licence and source.origin and source.gender in ("female", "male")
        assert source.kind in ("still", "group", "video")
        # the doc's table names the face, the person, the package and the file
        assert f"`{source.name}`" in doc and source.identity in doc and f"`{source.pip}`" in doc, source.name
        assert f"{source.package}/{source.file}" in doc, source.name


def test_at_least_twelve_resting_identities_install_offline() -> None:
    resting = available_faces(default_only=True)
    identities = {face_identity(f) for f in resting}
    assert len(identities) >= 12, sorted(identities)
    assert {face_gender(f) for f in resting} == {"female", "male"}
    assert len({face_identity(f) for f in available_faces()}) >= 17


@pytest.mark.parametrize("width", [0.28, 0.40])  # the planner's smallest and largest face (data/synthetic_plan.py)
def test_the_default_pool_is_found_as_feature_extraction_looks(width: float) -> None:
    """Feature extraction detects on the grey frame without upsampling: every default face, plain and
    mirrored (as a volunteer's look may be), must be found there, or its videos would have no features."""
    import cv2

    for name in available_faces(default_only=True):
        frame = render_reaction(ReactionSpec("neutral", duration_s=1 / 30, face=name, face_width=width))[0]
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        for view in (grey, np.ascontiguousarray(grey[:, ::-1])):
            assert len(hog_detector()(view, 0)) == 1, name


def test_a_video_frame_face_is_the_named_frame() -> None:
    woman = load_face("feat-video-woman")
    assert woman.shape == (360, 640, 3)
    assert not np.array_equal(woman, load_face("feat-group-1"))


def _write_face_photo(path: Path) -> Path:
    """A real face photo as a researcher would give it: the astronaut's head and shoulders, as JPEG."""
    Image.fromarray(load_face("astronaut")[:300, 60:400]).save(path, quality=92)
    return path


def test_a_photo_path_is_a_face(tmp_path: Path) -> None:
    photo = _write_face_photo(tmp_path / "volunteer 07.jpg")
    face = landmarked_face(str(photo))
    assert face.landmarks.shape == (68, 2) and face.landmarks[36, 0] < face.landmarks[45, 0]
    identity = face_identity(str(photo))
    assert identity.startswith("photo-volunteer 07-") and identity == face_identity(str(photo))
    assert face_gender(str(photo)) == "unknown"
    spec = ReactionSpec("smile", duration_s=0.5, face=str(photo), onset_s=0.0, ramp_s=0.3)
    frames = render_reaction(spec)
    assert frames.shape == (15, 480, 640, 3) and len(hog_detector()(frames[-1], 1)) == 1
    truth = reaction_landmarks(spec)
    width = np.linalg.norm(truth[:, 48] - truth[:, 54], axis=1)
    assert width[-1] > width[0] + 2  # the photo's mouth widens into a smile
    other = tmp_path / "copy.png"
    Image.open(photo).save(other)  # another file of other bytes: another identity
    assert face_identity(str(other)) != identity


def test_bad_face_photos_are_refused_clearly(tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(blank)
    with pytest.raises(NoFaceError, match="no face in the photo .*wall.png; use a sharp, frontal"):
        landmarked_face(str(blank))
    with pytest.raises(MediaError, match="not found"):
        ReactionSpec(face=str(tmp_path / "missing.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    with pytest.raises(MediaError, match="cannot read the face photo"):
        load_face(str(broken))
    with pytest.raises(ValueError, match="unknown face 'nobody'.*or give the path of a photo"):
        ReactionSpec(face="nobody")
