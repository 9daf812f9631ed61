"""http_visits: a wasi:http/proxy component in Python that keeps state with wasi:keyvalue, reads
its greeting with wasi:config and logs with wasi:logging - the standard interfaces only, built
with componentize-py as its own http example is, so the same code runs on any host that offers
them (Spin, wasmCloud, capsule).

GET /<route>             200 "<greeting>, visit N": N = atomics.increment("visits", 1) in the
                         bucket `bucket` of wasi:config (default "default"); one log line per visit.
GET /<route>/get?key=K   200 with the value of K, 404 when it is absent.
PUT /<route>/set?key=K   stores the request body under K; 204.
A wasi:keyvalue error (say, access-denied without a storage grant) answers 403 for access-denied
and 503 otherwise, with the error in the body: the component keeps serving."""
from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import atomics, logging
from wit_world.imports import wasi_config_store as config
from wit_world.imports import wasi_keyvalue_store as kv
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingBody,
    IncomingRequest,
    Method_Put,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

# blocking-write-and-flush takes at most 4096 bytes per call.
WRITE_CHUNK = 4096


def setting(name: str, default: str) -> str:
    value = config.get(name)
    return value if value is not None else default


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


def respond(out: ResponseOutparam, status: int, body: bytes) -> None:
    response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
    response.set_status_code(status)
    response_body = response.body()
    ResponseOutparam.set(out, Ok(response))
    with response_body.write() as stream:
        for i in range(0, len(body), WRITE_CHUNK):
            stream.blocking_write_and_flush(body[i : i + WRITE_CHUNK])
    OutgoingBody.finish(response_body, None)


def describe(error: kv.Error) -> str:
    if isinstance(error, kv.Error_NoSuchStore):
        return "no-such-store"
    if isinstance(error, kv.Error_AccessDenied):
        return "access-denied"
    return f"other: {error.value}"


def serve(request: IncomingRequest, bucket: kv.Bucket) -> tuple:
    url = urlsplit(request.path_with_query() or "/")
    key = parse_qs(url.query).get("key", [""])[0]
    if url.path.endswith("/get"):
        value = bucket.get(key)
        return (200, value) if value is not None else (404, b"no such key\n")
    if url.path.endswith("/set") and isinstance(request.method(), Method_Put):
        bucket.set(key, read_body(request))
        return (204, b"")
    visits = atomics.increment(bucket, "visits", 1)
    logging.log(logging.Level.INFO, "http_visits", f"visit {visits}")
    return (200, f"{setting('greeting', 'hello')}, visit {visits}\n".encode())


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        try:
            with kv.open(setting("bucket", "default")) as bucket:
                status, body = serve(request, bucket)
        except Err as e:
            if not isinstance(e.value, (kv.Error_NoSuchStore, kv.Error_AccessDenied, kv.Error_Other)):
                raise
            why = describe(e.value)
            status, body = (403 if why == "access-denied" else 503), f"wasi:keyvalue: {why}\n".encode()
        respond(response_out, status, body)
