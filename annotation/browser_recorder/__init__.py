"""Browser-recorded takes (``IPE_CAPTURE=browser``): a Streamlit component (plain HTML+JS, no
build step) that opens the camera once per visit and records each take in the browser.

The component (``index.html``) asks ``getUserMedia`` for 640x480 at 30 fps and reports what the
camera really gives; records each take with ``MediaRecorder`` (WebM VP8/VP9, or MP4 where that is
what the browser has); cuts it at ``max_seconds`` of the camera frames' media time (the frames'
own timestamps, from ``requestVideoFrameCallback``) or when the page asks (``stop_take``, the
"Done looking" button); and uploads it in 1 s chunks while it records, straight to the server's
HTTP routes (``routes.py``), not through component values: each chunk is acknowledged, retried
with back-off while the network is down, and the upload ends with the SHA-256 of the whole file.
On a page that is not a secure context (plain HTTP under a host name) the browser gives no
camera; the component says so and reports ``camera.state == "insecure"``.

Component value: ``{"camera": {"state": "opening|on|insecure|denied|unavailable", "settings": ...},
"take": token, "take_state": "stopped|lost|failed", "media_s": s}`` (a finished upload sends
nothing: every value is a rerun, and one arriving with a click can swallow the click); a take the page
still shows after a refresh but whose recording died with the old page reports ``lost`` and the
page opens a fresh take for the same outfit.
"""
