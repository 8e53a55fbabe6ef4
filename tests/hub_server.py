"""A local stand-in for the Hugging Face Hub: the model-info and resolve routes huggingface_hub
uses to list a repo and download a file, with Range requests and an optional dropped
connection half-way through a file. Listens on 127.0.0.1 only."""

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CHUNK = 1024 * 1024


class HubServer(ThreadingHTTPServer):
    """Serves {repo_id: {filename: bytes}}; files named in drop_once lose their connection half
    way through the first full download."""

    daemon_threads = True

    def __init__(
        self,
        repos: dict[str, dict[str, bytes]],
        drop_once: set[str] | None = None,
        chunk_delay_s: float = 0.0,
    ):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repos = repos
        self.drop_once = set(drop_once or ())
        self.chunk_delay_s = chunk_delay_s  # a pause per MB sent, for a slow connection
        self.range_requests: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: HubServer

    def log_message(self, *_args) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        path = self.path.split("?")[0]
        info = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path)
        tree = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/[^/]+", path)
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/[^/]+/(.+)", path)
        if info:
            self._model_info(info.group(1))
        elif tree:
            self._tree(tree.group(1))
        elif resolve:
            self._file(resolve.group(1), resolve.group(2), head)
        else:
            self._error(404, "RepoNotFound")

    def _model_info(self, repo_id: str) -> None:
        files = self.server.repos.get(repo_id)
        if files is None:
            return self._error(404, "RepoNotFound")
        self._json(
            {
                "id": repo_id,
                "modelId": repo_id,
                "sha": COMMIT,
                "private": False,
                "siblings": [{"rfilename": name} for name in files],
            }
        )

    def _json(self, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _tree(self, repo_id: str) -> None:
        """The repo's files as snapshot_download lists them (one page, no folders)."""
        files = self.server.repos.get(repo_id)
        if files is None:
            return self._error(404, "RepoNotFound")
        entries = [
            {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
            for name, data in files.items()
        ]
        self._json(entries)

    def _file(self, repo_id: str, filename: str, head: bool) -> None:
        files = self.server.repos.get(repo_id)
        if files is None:
            return self._error(404, "RepoNotFound")
        if filename not in files:
            return self._error(404, "EntryNotFound")
        data = files[filename]
        start = 0
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if ranged and not head:
            start = int(ranged.group(1))
            self.server.range_requests.append(self.headers["Range"])
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if head:
            return
        if not start and filename in self.server.drop_once:
            self.server.drop_once.discard(filename)
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the connection drops mid-file
            return
        for offset in range(start, len(data), CHUNK):
            self.wfile.write(data[offset : offset + CHUNK])
            time.sleep(self.server.chunk_delay_s)

    def _error(self, status: int, code: str) -> None:
        body = json.dumps({"error": code}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
