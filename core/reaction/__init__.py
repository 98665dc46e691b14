"""From a reaction video to features: the PLM-IPE landmark and pixel streams (torch-free).

video.py (frames + timestamps) -> landmarks.py / face_models.py (detector + 68 points, plug-in
backends) -> tracking.py (detect once, track) -> alignment.py (canonical face) ->
face_regions.py (the 36 MDMO regions) -> descriptor.py (72-d flow per frame; the whole
extraction) and clips.py (16-frame 112x112 C3D clips); feature_cache.py keys the results by
the video's content hash; draw.py draws landmarks, regions and flow on frames.

May import: ``core.errors``, ``core.paths``, ``core.files``. Never ``models`` or UI.
"""
