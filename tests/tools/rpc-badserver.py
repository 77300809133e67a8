#!/usr/bin/python3
"""A deliberately misbehaving JSON-RPC node for tests/unit/test_rpc.c.

The JSON-RPC method of each request picks how it is (mis)answered; see
MODES. Listens on 127.0.0.1, on the port given as argv[1] or a free one,
and prints the port on stdout once it accepts connections. Standard
library only.
"""
import http.server
import json
import sys
import threading
import time

BIG = 50 * 1024 * 1024

# What the last "big_*" answer managed to send before the client hung up.
STATS_LOCK = threading.Lock()
STATS = {"big_sent": 0, "big_done": False}


def envelope(req_id, **members):
    doc = {"jsonrpc": "2.0", "id": req_id}
    doc.update(members)
    return json.dumps(doc).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real node
    timeout = 30  # a stuck write (client not reading) ends the thread

    def log_message(self, fmt, *args):
        pass

    def reply(self, body, status=200, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            req = json.loads(raw)
            req_id, method = req["id"], req["method"]
            params = req.get("params", [])
        except (ValueError, KeyError, TypeError):
            self.reply(b'{"jsonrpc":"2.0","id":null,"error":'
                       b'{"code":-32700,"message":"Parse error"}}')
            return
        handler = MODES.get(method)
        if handler is None:
            self.reply(envelope(req_id, error={
                "code": -32601, "message": "Method not found"}))
            return
        try:
            handler(self, req_id, params)
        except OSError:
            # The client hung up (timeout, size cap): expected here.
            self.close_connection = True

    # ---- well-behaved ----------------------------------------------------

    def m_echo(self, req_id, params):
        self.reply(envelope(req_id, result=params))

    def m_stats(self, req_id, params):
        with STATS_LOCK:
            self.reply(envelope(req_id, result=dict(STATS)))

    def m_stats_reset(self, req_id, params):
        with STATS_LOCK:
            STATS.update(big_sent=0, big_done=False)
        self.reply(envelope(req_id, result=True))

    # ---- slow --------------------------------------------------------------

    def m_slow(self, req_id, params):
        time.sleep(float(params[0]) if params else 30.0)
        self.reply(envelope(req_id, result="late"))

    def m_drip(self, req_id, params):
        """Headers at once, then one byte of body every 100 ms."""
        body = envelope(req_id, result="x" * 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for i in range(len(body)):
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()
            time.sleep(0.1)

    # ---- malformed bodies ------------------------------------------------

    def m_garbage(self, req_id, params):
        self.reply(b"this is not JSON \x00\xff\xfe at all")

    def m_empty(self, req_id, params):
        self.reply(b"")

    def m_truncated_json(self, req_id, params):
        self.reply(envelope(req_id, result="0x1234")[:-6])

    def m_truncated_http(self, req_id, params):
        """Promises 1000 bytes, sends 40, closes the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(envelope(req_id, result="0x1234")[:40])
        self.wfile.flush()
        self.close_connection = True

    def m_not_http(self, req_id, params):
        """No status line at all (HTTP/0.9 style), then close."""
        self.wfile.write(b"garbage instead of HTTP\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    def m_huge_headers(self, req_id, params):
        """A valid answer behind 1 MB of header lines."""
        body = envelope(req_id, result="0x1")
        self.send_response(200)
        for i in range(10000):
            self.send_header("X-Filler-%d" % i, "f" * 90)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def m_deep(self, req_id, params):
        depth = int(params[0]) if params else 100000
        self.reply(b'{"jsonrpc":"2.0","id":%d,"result":' % req_id +
                   b"[" * depth + b"]" * depth + b"}")

    # ---- valid JSON, invalid JSON-RPC --------------------------------------

    def m_wrong_id(self, req_id, params):
        self.reply(envelope(req_id + 1, result="0x1"))

    def m_string_id(self, req_id, params):
        self.reply(envelope(str(req_id), result="0x1"))

    def m_no_version(self, req_id, params):
        self.reply(json.dumps({"id": req_id, "result": "0x1"}).encode())

    def m_old_version(self, req_id, params):
        self.reply(json.dumps({"jsonrpc": "1.0", "id": req_id,
                               "result": "0x1"}).encode())

    def m_both(self, req_id, params):
        self.reply(envelope(req_id, result="0x1",
                            error={"code": 1, "message": "m"}))

    def m_neither(self, req_id, params):
        self.reply(envelope(req_id))

    def m_bad_error(self, req_id, params):
        self.reply(envelope(req_id, error="oops"))

    def m_batch(self, req_id, params):
        self.reply(b"[" + envelope(req_id, result="0x1") + b"]")

    def m_duplicate(self, req_id, params):
        self.reply(b'{"jsonrpc":"2.0","id":%d,"result":"0x1","result":"0x2"}'
                   % req_id)

    # ---- errors ----------------------------------------------------------

    def m_http500(self, req_id, params):
        self.reply(envelope(req_id, error={"code": -32603,
                                           "message": "internal"}),
                   status=500)

    def m_null_id_error(self, req_id, params):
        self.reply(envelope(None, error={"code": -32600,
                                         "message": "Invalid request"}))

    def m_nasty_error(self, req_id, params):
        """An error message made to forge log lines, and overlong."""
        msg = "line\nforged: \x1b[31mred\r" + "\u00e9" * 300
        self.reply(envelope(req_id, error={"code": -32000, "message": msg,
                                           "data": "0xdeadbeef"}))

    # ---- huge bodies -------------------------------------------------------

    def big(self, req_id, chunked):
        head = b'{"jsonrpc":"2.0","id":%d,"result":"0x' % req_id
        block = b"00" * 32768
        sent = 0
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(BIG))
        self.end_headers()
        self.close_connection = True
        try:
            data = head
            while sent < BIG:
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
                else:
                    self.wfile.write(data)
                sent += len(data)
                data = block
        finally:
            with STATS_LOCK:
                STATS.update(big_sent=sent, big_done=True)

    def m_big_chunked(self, req_id, params):
        self.big(req_id, True)

    def m_big_length(self, req_id, params):
        self.big(req_id, False)


MODES = {name[2:]: func for name, func in vars(Handler).items()
         if name.startswith("m_")}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients hanging up on us is the point


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = Server(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
