"""HTTP routes of the browser-recorded path, mounted beside Streamlit by ``annotation/serve.py``.

    PUT  /capture/take/{token}/{index}   one chunk (raw bytes)        -> {"index", "next", "size"}
    GET  /capture/take/{token}           where the upload stands      -> {"next", "size", "state"}
    POST /capture/take/{token}/finish    {"sha256", "chunks", "client"} -> {"state"}
    PUT  /capture/preview/{visit}        one JPEG for the face check  -> {}

The token in the path is the take's capability (``core/collection/take_upload.py``); a refused
request gets a JSON ``{"error", "next"?}`` with 4xx and nothing is stored. Bodies are read with a
cap, never whole first; the disk work runs in the thread pool, off the event loop.
"""
from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from annotation.browser_recorder.service import PREVIEW_MAX_BYTES, capture_service
from core.collection.take_upload import UploadError

PREFIX = "/capture"
NO_STORE = {"Cache-Control": "no-store"}


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise UploadError(f"a request body is at most {limit} bytes", 413)
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > limit:
            raise UploadError(f"a request body is at most {limit} bytes", 413)
    return bytes(data)


def _answer(handler):
    async def wrapped(request: Request) -> JSONResponse:
        try:
            return JSONResponse(await handler(request), headers=NO_STORE)
        except UploadError as err:
            return JSONResponse({"error": str(err), **err.details}, status_code=err.status, headers=NO_STORE)
    return wrapped


@_answer
async def put_chunk(request: Request) -> dict:
    service = capture_service()
    index = request.path_params["index"]
    data = await _body(request, service.uploads.limits.max_chunk_bytes)
    ack = await run_in_threadpool(service.uploads.put_chunk, request.path_params["token"], index, data)
    return ack


@_answer
async def take_status(request: Request) -> dict:
    slot = capture_service().uploads.get(request.path_params["token"])
    return {"next": len(slot.chunks), "size": slot.size, "state": slot.state}


@_answer
async def finish(request: Request) -> dict:
    service = capture_service()
    try:
        body = json.loads(await _body(request, 128 * 1024))
        sha, chunks, client = str(body["sha256"]), int(body["chunks"]), body.get("client") or {}
    except (ValueError, KeyError, TypeError):
        raise UploadError('finish takes JSON {"sha256": hex, "chunks": n, "client": {...}}') from None
    slot = await run_in_threadpool(service.uploads.finish, request.path_params["token"], sha256=sha, chunks=chunks,
                                   client=client)
    service.worker.poke()
    return {"state": slot.state}


@_answer
async def put_preview(request: Request) -> dict:
    service = capture_service()
    data = await _body(request, PREVIEW_MAX_BYTES)
    await run_in_threadpool(service.put_preview, request.path_params["visit"], data)
    return {}


def capture_routes() -> list[Route]:
    return [
        Route(PREFIX + "/take/{token}/{index:int}", put_chunk, methods=["PUT"]),
        Route(PREFIX + "/take/{token}/finish", finish, methods=["POST"]),
        Route(PREFIX + "/take/{token}", take_status, methods=["GET"]),
        Route(PREFIX + "/preview/{visit}", put_preview, methods=["PUT"]),
    ]
