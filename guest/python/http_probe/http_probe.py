"""http_probe: a wasi:http/proxy component (componentize-py) that misbehaves on request, for the
engine's limit tests (tests/wasm/http_proxy_test.cpp).

  /trap              raises an uncaught exception: the call traps
  /sleep?ms=N        sleeps N ms (a WASI clock wait: the call suspends), then answers 200
  /fetch?host=H      sends GET http://H/ and answers 200 with the response status, or 502 with
                     the wasi:http error code's name (HTTP-request-denied when not allowed)
  /big?kib=N         answers 200 with N KiB of 'x'
  /alloc?mib=N       allocates N MiB, then answers 200 with the size
  anything else      200 "probe"
"""
import time
from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import outgoing_handler
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Get,
    OutgoingBody,
    OutgoingRequest,
    OutgoingResponse,
    ResponseOutparam,
    Scheme_Http,
)

WRITE_CHUNK = 4096


def respond(out: ResponseOutparam, status: int, body: bytes) -> None:
    response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
    response.set_status_code(status)
    response_body = response.body()
    ResponseOutparam.set(out, Ok(response))
    with response_body.write() as stream:
        for i in range(0, len(body), WRITE_CHUNK):
            stream.blocking_write_and_flush(body[i : i + WRITE_CHUNK])
    OutgoingBody.finish(response_body, None)


def fetch(host: str) -> tuple:
    request = OutgoingRequest(Fields())
    request.set_method(Method_Get())
    request.set_scheme(Scheme_Http())
    request.set_authority(host)
    request.set_path_with_query("/")
    try:
        future = outgoing_handler.handle(request, None)
    except Err as e:
        return 502, type(e.value).__name__.encode()
    with future.subscribe() as ready:
        ready.block()
    outcome = future.get()  # Some(Ok(Ok(response))) or Some(Ok(Err(error-code)))
    inner = outcome.value if isinstance(outcome, Ok) else outcome
    if isinstance(inner, Err):
        return 502, type(inner.value).__name__.encode()
    if isinstance(inner, Ok):
        return 200, str(inner.value.status()).encode()
    return 502, repr(outcome).encode()


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        url = urlsplit(request.path_with_query() or "/")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/trap":
            raise RuntimeError("asked to trap")
        if url.path == "/sleep":
            time.sleep(int(query.get("ms", "0")) / 1000)
            respond(response_out, 200, b"slept")
        elif url.path == "/fetch":
            status, body = fetch(query.get("host", "example.com"))
            respond(response_out, status, body)
        elif url.path == "/alloc":
            block = bytearray(int(query.get("mib", "1")) << 20)
            respond(response_out, 200, str(len(block)).encode())
        elif url.path == "/big":
            respond(response_out, 200, b"x" * (int(query.get("kib", "1")) * 1024))
        else:
            respond(response_out, 200, b"probe")
