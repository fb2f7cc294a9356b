"""The benchmarks' HTTP server: a Python program run in its own process, so that
the CPU it spends is not the measured client's."""

from __future__ import annotations


def http_server_script(data: str) -> str:
    """A program answering every GET on 127.0.0.1 with ``data`` (a Python
    expression), that prints its port on the first line."""
    return f"""
import http.server
data = {data}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
server = S(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""
