"""http_hello: a wasi:http/proxy component in Python, written as componentize-py's own http
example is (one `IncomingHandler` class, the raw wasi:http bindings), built with the upstream
toolchain against the wasi:http 0.2.12 WIT in third_party/wasi-wit/0.2.12.

GET anything: 200 "hello from python" with `x-hello: capsule`. POST /echo: 200 with the request
body and content-type sent back. GET .../count: 200 "count N", N the requests this instance has
handled (1 on a fresh instance: it shows whether the host reuses instances)."""
from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingBody,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

# blocking-write-and-flush takes at most 4096 bytes per call.
WRITE_CHUNK = 4096

# Module state lives in the instance's linear memory: it survives between requests only when
# the host reuses the instance.
handled = 0


def read_body(request: IncomingRequest) -> bytes:
    body = request.consume()
    data = bytearray()
    with body.stream() as stream:
        while True:
            try:
                data += stream.blocking_read(16 * 1024)
            except Err as e:
                if isinstance(e.value, StreamError_Closed):
                    break
                raise
    IncomingBody.finish(body)
    return bytes(data)


def respond(out: ResponseOutparam, status: int, headers: list, body: bytes) -> None:
    response = OutgoingResponse(Fields.from_list(headers))
    response.set_status_code(status)
    response_body = response.body()
    ResponseOutparam.set(out, Ok(response))
    with response_body.write() as stream:
        for i in range(0, len(body), WRITE_CHUNK):
            stream.blocking_write_and_flush(body[i : i + WRITE_CHUNK])
    OutgoingBody.finish(response_body, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        global handled
        handled += 1
        path = request.path_with_query() or "/"
        if path.endswith("/count"):
            respond(response_out, 200, [("content-type", b"text/plain")], b"count %d" % handled)
            return
        if path == "/echo":
            content_type = request.headers().get("content-type") or [b"application/octet-stream"]
            respond(response_out, 200, [("content-type", content_type[0])], read_body(request))
            return
        respond(
            response_out,
            200,
            [("content-type", b"text/plain"), ("x-hello", b"capsule")],
            b"hello from python",
        )
