"""Versioned schema migrations for the DuckDB store.

Each migration is ``(version, description, statements)``. ``migrate`` applies the ones
newer than the file's ``schema_version`` in order, each in its own transaction, and
records it. Never edit a migration that has shipped: add a new one.

Foreign keys are enforced by the store's code (``core/store/``) rather than by DuckDB, whose FK checks
refuse some delete orders inside one transaction; every table has ``created_at``.
"""
from __future__ import annotations

import duckdb

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "initial schema",
        [
            """CREATE TABLE catalog (
                catalog_id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                is_demo BOOLEAN NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
            """CREATE TABLE item (
                item_id VARCHAR PRIMARY KEY,
                catalog_id VARCHAR NOT NULL,
                kind VARCHAR NOT NULL CHECK (kind IN ('top', 'bottom')),
                path VARCHAR NOT NULL,
                sha256 VARCHAR NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                attributes JSON,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
            """CREATE TABLE outfit (
                outfit_id VARCHAR PRIMARY KEY,
                catalog_id VARCHAR NOT NULL,
                top_id VARCHAR NOT NULL,
                bottom_id VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
                UNIQUE (top_id, bottom_id))""",
            """CREATE TABLE volunteer (
                volunteer_id VARCHAR PRIMARY KEY,
                withdrawal_code VARCHAR NOT NULL UNIQUE,
                age_band VARCHAR NOT NULL,
                gender VARCHAR NOT NULL,
                extra JSON,
                consent_version VARCHAR NOT NULL,
                consent_recording BOOLEAN NOT NULL,
                consent_training BOOLEAN NOT NULL,
                consent_publication BOOLEAN NOT NULL,
                consent_at TIMESTAMP NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
            """CREATE TABLE session (
                session_id VARCHAR PRIMARY KEY,
                volunteer_id VARCHAR NOT NULL,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                stopped_early BOOLEAN,
                device_info JSON,
                plan JSON,
                research_mode VARCHAR,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
            """CREATE TABLE view (
                view_id VARCHAR PRIMARY KEY,
                session_id VARCHAR NOT NULL,
                volunteer_id VARCHAR NOT NULL,
                outfit_id VARCHAR NOT NULL,
                position INTEGER NOT NULL,
                status VARCHAR NOT NULL CHECK (status IN ('ok', 'skipped', 'short', 'failed')),
                rating INTEGER CHECK (rating BETWEEN 0 AND 100),
                shown_at TIMESTAMP NOT NULL,
                rated_at TIMESTAMP,
                lead_time_s DOUBLE,
                video_path VARCHAR,
                video_sha256 VARCHAR,
                frames INTEGER,
                fps DOUBLE,
                duration_s DOUBLE,
                width INTEGER,
                height INTEGER,
                video_meta JSON,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
                UNIQUE (session_id, position))""",
            """CREATE TABLE labeler (
                labeler_id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL UNIQUE,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
            """CREATE TABLE image_label (
                label_id VARCHAR PRIMARY KEY,
                labeler_id VARCHAR NOT NULL,
                image_set VARCHAR,
                image_path VARCHAR NOT NULL,
                image_sha256 VARCHAR NOT NULL,
                answer VARCHAR NOT NULL CHECK (answer IN ('preferred', 'not_preferred', 'skip')),
                response_ms INTEGER NOT NULL CHECK (response_ms >= 0),
                region_x DOUBLE,
                region_y DOUBLE,
                is_gold BOOLEAN NOT NULL,
                slow BOOLEAN NOT NULL,
                undone_at TIMESTAMP,
                answered_at TIMESTAMP NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
            """CREATE TABLE feature_cache (
                video_sha256 VARCHAR NOT NULL,
                extractor VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                path VARCHAR NOT NULL,
                meta JSON,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
                PRIMARY KEY (video_sha256, extractor, version))""",
            """CREATE TABLE split (
                split_name VARCHAR PRIMARY KEY,
                seed INTEGER NOT NULL,
                rule VARCHAR NOT NULL,
                params JSON,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
            """CREATE TABLE split_member (
                split_name VARCHAR NOT NULL,
                volunteer_id VARCHAR NOT NULL,
                fold VARCHAR NOT NULL CHECK (fold IN ('train', 'test')),
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
                PRIMARY KEY (split_name, volunteer_id))""",
            """CREATE TABLE model_run (
                run_id VARCHAR PRIMARY KEY,
                kind VARCHAR NOT NULL,
                config JSON,
                metrics JSON,
                checkpoint_path VARCHAR NOT NULL,
                split_name VARCHAR,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        ],
    ),
    (
        2,
        "session resume keys; image folders registered for labeling",
        [
            # the SHA-256 of a random per-browser key: a session resumes only with the key itself
            "ALTER TABLE session ADD COLUMN resume_key_sha256 VARCHAR",
            """CREATE TABLE image_folder (
                name VARCHAR PRIMARY KEY,
                path VARCHAR NOT NULL,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        ],
    ),
    (
        3,
        "when the volunteer first touched the rating; whether the session showed a self-view",
        [
            # the rating has no accepted default: the first touch tells "chose 50" from "never moved"
            "ALTER TABLE view ADD COLUMN touched_at TIMESTAMP",
            "ALTER TABLE session ADD COLUMN self_view BOOLEAN",
        ],
    ),
    (
        4,
        "camera restarts per session",
        [
            # times the page found the camera delivering no frames and reconnected it by itself
            # (annotation/camera_watchdog.py); researchers see them beside the session
            "ALTER TABLE session ADD COLUMN camera_restarts INTEGER DEFAULT 0",
        ],
    ),
    (
        5,
        "outfit reservations of open sessions",
        [
            # the outfits an open session planned and has not shown yet count as covered while the
            # reservation lives, so servers planning at once hand out different ones (reservations.py)
            """CREATE TABLE outfit_reservation (
                session_id VARCHAR NOT NULL,
                volunteer_id VARCHAR NOT NULL,
                outfit_id VARCHAR NOT NULL,
                expires_at TIMESTAMP NOT NULL,
                hold_s DOUBLE NOT NULL CHECK (hold_s > 0),
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
                PRIMARY KEY (session_id, outfit_id))""",
            "CREATE INDEX outfit_reservation_expiry ON outfit_reservation (expires_at)",
        ],
    ),
    (
        6,
        "withdrawn sessions, by a one-way hash of their id",
        [
            # a late take for a withdrawn volunteer's session, on any server, is discarded as a
            # withdrawal (deletion.py): only a SHA-256 of the random session id is kept, nothing
            # that names or links to the person; operational, never exported
            """CREATE TABLE withdrawn_session (
                session_hash VARCHAR PRIMARY KEY,
                created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        ],
    ),
]

LATEST = MIGRATIONS[-1][0]


def current_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open database; 0 for an empty file."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' "
        "AND table_schema = current_schema()"
    ).fetchall()[0][0]
    if not exists:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchall()[0]
    return int(row[0] or 0)


def migrate(conn: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every pending migration; return the versions applied (empty when current)."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            description VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"""
    )
    have = current_version(conn)
    applied: list[int] = []
    for version, description, statements in MIGRATIONS:
        if version <= have:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description) VALUES (?, ?)", [version, description]
            )
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")  # DuckDB's or, on PostgreSQL (pg.py), psycopg's error
            raise
        applied.append(version)
    return applied
