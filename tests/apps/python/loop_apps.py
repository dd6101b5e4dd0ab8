#!/usr/bin/python3.11
"""Event-loop test services for weft's parent tests (tests/integration/http_parent_*).

  loop_apps.py backend  --port P --log FILE --ready FILE
      asyncio HTTP/1.1 server: answers every request at once and logs
      {"path", "traceparent": [...]} per request (JSON lines).
  loop_apps.py asyncio  --port P --next PORT --ready FILE
      asyncio front: per request, `await asyncio.sleep(0)` and then a call to
      the backend (new connection, GET same path) before answering.
  loop_apps.py asyncio-after ...
      the same, but answers first and calls the backend 20 ms later.
  loop_apps.py asyncio-gather ...
      the call runs in a task of its own: `await asyncio.gather(call,
      asyncio.sleep(0))`.
  loop_apps.py asyncio-thread ...
      the call is made with blocking sockets in asyncio.to_thread.
  loop_apps.py selectors --port P --next PORT --ready FILE
      single-threaded selectors loop: the backend call starts in a later loop
      iteration than the read of the request (non-blocking connect).
  loop_apps.py threaded|threaded-after|pool --port P --next PORT --ready FILE
      a thread per connection (blocking sockets) that calls the backend
      before answering (threaded), after answering (threaded-after), or
      hands each request to a pool of 4 worker threads that call the
      backend and answer (pool).
  loop_apps.py client   --port P --n N --conc C --out FILE
      N requests over C concurrent keep-alive connections, request i with
      path /r/i and traceparent 00-<trace i>-<span i>-01; writes
      {"path", "trace", "span", "status"} per request. --new-conn: a new
      connection for each request.

--uvloop (asyncio fronts): run on uvloop's event loop (Debian's python3-uvloop).
--shared-context (asyncio fronts): a task factory runs every task in one
context.
--subinterpreter (asyncio fronts): a subinterpreter is made and ended before
the loop starts (CPython's _xxsubinterpreters), so the runtime has made two
interpreters (interpreters.next_id 2): weft-http's copy probe then finds the
Context freelist's interpreter through the thread state.
--drain-freelist (asyncio fronts): before the call, 300 contexts are made
and kept (CPython's Context freelist holds 255 at most), so the copies made
for the call (gather's task) are new allocations, not freelist entries.
--fresh-context new|copy|run (asyncio fronts): the call runs in a task of
its own in a context that is no copy of the running one:
contextvars.Context() (new), Context().copy() (copy) or a copy_context()
run in a Context() (run), made right after a copy of the running context
was freed (so it takes that copy's address off the freelist).
--fresh-empty (with --fresh-context): 300 such copies are made with the
Context freelist empty and freed with it full (back to the allocator), and
the freelist is emptied before the fresh context is made, so
_PyObject_GC_New makes it (most often at a freed copy's address).
--reuse-out FILE (with --fresh-context): one line per request, 1 when the
fresh context got a freed copy's address, else 0.

--tls DIR (backend, asyncio, client): HTTPS with DIR/server.pem,
server.key and ca.pem (tests/apps/tls/mkcerts.sh) instead of plain HTTP.

No tracing library anywhere: the fronts do not forward the client's headers,
so the traceparent the backend sees is weft's.
"""
import argparse
import asyncio
import contextvars
import json
import os
import selectors
import socket
import ssl


def tls_server(args):
    if not args.tls:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls + "/server.pem", args.tls + "/server.key")
    return ctx


def tls_client(args):
    if not args.tls:
        return None
    return ssl.create_default_context(cafile=args.tls + "/ca.pem")


async def read_head(reader):
    """The request or response head as (first line, {lower name: [values]}), or None."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], hdrs


def parse_head(data):
    lines = data.decode("latin-1").split("\r\n")
    return lines[0], {ln.split(":", 1)[0].strip().lower(): ln.split(":", 1)[1].strip()
                      for ln in lines[1:] if ":" in ln}


def answer(body):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def backend_request(path):
    return ("GET %s HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n" % path).encode()


async def backend(args):
    log = open(args.log, "a", buffering=1)

    reuse = open(args.reuse_out, "a") if args.reuse_out else None

    async def serve(reader, writer):
        while True:
            h = await read_head(reader)
            if h is None:
                break
            line, hdrs = h
            log.write(json.dumps({"path": line.split(" ")[1],
                                  "traceparent": hdrs.get("traceparent", [])}) + "\n")
            writer.write(answer(b"backend ok\n"))
            await writer.drain()
            if hdrs.get("connection", [""])[0].lower() == "close":
                break
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", args.port, backlog=512,
                                     ssl=tls_server(args))
    open(args.ready, "w").close()
    await srv.serve_forever()


async def call_backend(port, path, ctx=None):
    r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    w.write(backend_request(path))
    await w.drain()
    data = await r.read()
    w.close()
    return data


async def asyncio_front(args):
    later = set()
    cctx = tls_client(args)
    if args.shared_context:	# every task runs in one context (a task factory)
        shared = contextvars.copy_context()
        asyncio.get_running_loop().set_task_factory(
            lambda loop, coro, **kw: asyncio.Task(coro, loop=loop, context=shared))

    async def call_later(path):
        await asyncio.sleep(0.02)
        await call_backend(args.next, path, cctx)

    reuse = open(args.reuse_out, "a") if args.reuse_out else None

    async def serve(reader, writer):
        while True:
            h = await read_head(reader)
            if h is None:
                break
            path = h[0].split(" ")[1]
            if args.mode == "asyncio-after":
                writer.write(answer(b"front later\n"))
                await writer.drain()
                t = asyncio.create_task(call_later(path))
                later.add(t)
                t.add_done_callback(later.discard)
                continue
            keep = [contextvars.Context() for _ in range(300)] if args.drain_freelist else None
            if args.fresh_context:
                base = contextvars.Context()
                if args.fresh_empty:
                    spare = [contextvars.Context() for _ in range(300)]	# empties the freelist
                    copies = [contextvars.copy_context() for _ in range(300)]	# by GC_New
                    del spare				# fills the freelist (255)
                else:
                    copies = [contextvars.copy_context()]	# a copy of the request's context...
                freed = {id(c) for c in copies}
                del copies	# ...freed: its address heads the freelist, or is the allocator's
                if args.fresh_empty:
                    hold = [None] * 255			# no list growth (64-byte blocks)
                    for i in range(255):
                        hold[i] = contextvars.Context()	# the freelist is empty now
                if args.fresh_context == "new":
                    ctx = contextvars.Context()
                elif args.fresh_context == "copy":
                    ctx = base.copy()
                else:
                    ctx = base.run(contextvars.copy_context)
                if reuse:
                    reuse.write("1\n" if id(ctx) in freed else "0\n")
                    reuse.flush()
                data = await asyncio.create_task(call_backend(args.next, path, cctx),
                                                 context=ctx)
            elif args.mode == "asyncio-gather":
                data, _ = await asyncio.gather(call_backend(args.next, path, cctx),
                                               asyncio.sleep(0))
            elif args.mode == "asyncio-thread":
                data = await asyncio.to_thread(blocking_call, args.next, path)
            else:
                await asyncio.sleep(0)		# an await before the call
                data = await call_backend(args.next, path, cctx)
            del keep
            writer.write(answer(b"front " + data.split(b"\r\n")[0] + b"\n"))
            await writer.drain()
            if h[1].get("connection", [""])[0].lower() == "close":
                break	# wrk -H 'Connection: close': a new connection per request
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", args.port, backlog=512,
                                     ssl=tls_server(args))
    open(args.ready, "w").close()
    await srv.serve_forever()


def selectors_front(args):
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(512)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, ("listen", None))
    pending = []	# requests read in this iteration: their calls start in the next one

    def start_call(cl, path):
        b = socket.socket()
        b.setblocking(False)
        b.connect_ex(("127.0.0.1", args.next))
        st = {"client": cl, "path": path, "buf": b""}
        sel.register(b, selectors.EVENT_WRITE, ("connect", st))

    open(args.ready, "w").close()
    while True:
        for cl, path in pending:
            start_call(cl, path)
        pending = []
        for key, _ in sel.select():
            what, st = key.data
            s = key.fileobj
            if what == "listen":
                try:
                    c, _ = s.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, ("client", {"buf": b""}))
            elif what == "client":
                try:
                    d = s.recv(65536)
                except BlockingIOError:
                    continue
                if not d:
                    sel.unregister(s)
                    s.close()
                    continue
                st["buf"] += d
                while b"\r\n\r\n" in st["buf"]:
                    head, st["buf"] = st["buf"].split(b"\r\n\r\n", 1)
                    pending.append((s, parse_head(head)[0].split(" ")[1]))
            elif what == "connect":
                sel.modify(s, selectors.EVENT_READ, ("reply", st))
                s.send(backend_request(st["path"]))
            elif what == "reply":
                d = s.recv(65536)
                if d:
                    st["buf"] += d
                    continue
                sel.unregister(s)
                s.close()
                first = st["buf"].split(b"\r\n")[0]
                st["client"].setblocking(True)
                st["client"].sendall(answer(b"front " + first + b"\n"))
                st["client"].setblocking(False)


def blocking_call(port, path):
    with socket.create_connection(("127.0.0.1", port)) as b:
        b.sendall(backend_request(path))
        data = b""
        while True:
            d = b.recv(65536)
            if not d:
                return data
            data += d


def threaded_front(args):
    import queue
    import threading
    work = queue.Queue()

    def reader(c):
        f = c.makefile("rb")
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = f.readline()
                if not line:
                    c.close()
                    return
                head += line
            path = parse_head(head)[0].split(" ")[1]
            if args.mode == "pool":
                done = threading.Event()
                work.put((c, path, done))
                done.wait()		# keep-alive: the next request after this answer
            elif args.mode == "threaded-after":
                c.sendall(answer(b"front later\n"))
                blocking_call(args.next, path)
            else:
                data = blocking_call(args.next, path)
                c.sendall(answer(b"front " + data.split(b"\r\n")[0] + b"\n"))

    def worker():
        while True:
            c, path, done = work.get()
            data = blocking_call(args.next, path)
            c.sendall(answer(b"front " + data.split(b"\r\n")[0] + b"\n"))
            done.set()

    for _ in range(4):
        threading.Thread(target=worker, daemon=True).start()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(512)
    open(args.ready, "w").close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=reader, args=(c,), daemon=True).start()


async def client(args):
    cctx = tls_client(args)
    out = []
    ids = list(range(args.n))

    async def worker():
        r = w = None
        while ids:
            i = ids.pop()
            trace, span = os.urandom(16).hex(), os.urandom(8).hex()
            path = "/r/%d" % i
            for attempt in range(3):
                try:
                    if w is None:
                        r, w = await asyncio.open_connection("127.0.0.1", args.port, ssl=cctx)
                    w.write(("GET %s HTTP/1.1\r\nHost: front\r\ntraceparent: 00-%s-%s-01\r\n\r\n"
                             % (path, trace, span)).encode())
                    await w.drain()
                    h = await read_head(r)
                    if h is None:
                        raise ConnectionError("closed")
                    n = int(h[1].get("content-length", ["0"])[0])
                    await r.readexactly(n)
                    status = int(h[0].split(" ")[1])
                    if args.new_conn:
                        w.close()
                        w = None
                    break
                except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                    w = None
                    status = 0
            out.append({"path": path, "trace": trace, "span": span, "status": status})
        if w:
            w.close()

    await asyncio.gather(*(worker() for _ in range(args.conc)))
    with open(args.out, "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["backend", "asyncio", "asyncio-after", "asyncio-gather",
                                    "asyncio-thread", "selectors", "threaded", "threaded-after",
                                    "pool", "client"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--next", type=int)
    p.add_argument("--log")
    p.add_argument("--ready")
    p.add_argument("--out")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--conc", type=int, default=50)
    p.add_argument("--tls")
    p.add_argument("--new-conn", action="store_true")
    p.add_argument("--uvloop", action="store_true")
    p.add_argument("--shared-context", action="store_true")
    p.add_argument("--subinterpreter", action="store_true")
    p.add_argument("--drain-freelist", action="store_true")
    p.add_argument("--fresh-context", choices=["new", "copy", "run"])
    p.add_argument("--fresh-empty", action="store_true")
    p.add_argument("--reuse-out")
    a = p.parse_args()
    if a.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if a.subinterpreter:
        import _xxsubinterpreters
        _xxsubinterpreters.destroy(_xxsubinterpreters.create())
    if a.mode == "selectors":
        selectors_front(a)
    elif a.mode in ("threaded", "threaded-after", "pool"):
        threaded_front(a)
    else:
        asyncio.run({"backend": backend, "client": client}.get(a.mode, asyncio_front)(a))


if __name__ == "__main__":
    main()
