"""Domain logic with no UI: storage, catalog, video, faces, features, labels, splits."""
