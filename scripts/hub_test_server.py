#!/usr/bin/env python3
"""A tiny stand-in for the Hugging Face hub, for the hub client's tests.

Serves the files of one local folder as the repo REPO in the hub's URL layout, on 127.0.0.1 only:
  GET  /api/models/REPO/revision/REV        {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD/GET /REPO/resolve/REV/FILE           small files: 200 + ETag (git blob sha1) + X-Repo-Commit
                                            LFS files (*.safetensors, *.gguf, *.bin): 302 to /lfs/SHA256
                                            with X-Linked-Etag, X-Linked-Size, X-Repo-Commit
  GET  /lfs/SHA256                          the bytes; honours "Range: bytes=N-" (206)
Error answers follow the hub: X-Error-Code RepoNotFound (401), RevisionNotFound / EntryNotFound (404),
GatedRepo (401) when --token is set and the request lacks it.

Switches for failure tests: --corrupt (LFS bodies have one byte flipped), --cut-after N and
--cut-times K (the first K LFS transfers stop after N bytes), --chunk-delay S (LFS bodies are sent
16 KB at a time with S seconds between), --log FILE (one line per request).
The server picks a free port (written to --port-file) and exits by itself after --max-seconds.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

LFS_SUFFIXES = (".safetensors", ".gguf", ".bin")


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, root, repo_id, commit):
        self.repo_id = repo_id
        self.commit = commit
        self.files = {}  # name -> bytes
        for dirpath, _, names in os.walk(root):
            for n in names:
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, "rb") as f:
                    self.files[rel] = f.read()
        self.by_sha = {hashlib.sha256(d).hexdigest(): d for n, d in self.files.items() if n.endswith(LFS_SUFFIXES)}


def make_handler(repo, args, state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet; --log records requests instead
            pass

        def record(self):
            if args.log:
                with state["lock"], open(args.log, "a") as f:
                    f.write("%s %s range=%s auth=%s\n" % (self.command, self.path, self.headers.get("Range", "-"),
                                                          "yes" if self.headers.get("Authorization") else "no"))

        def send(self, status, body=b"", headers=None, head=False):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and body:
                self.wfile.write(body)

        def error(self, status, code, message, head):
            self.send(status, json.dumps({"error": message}).encode(),
                      {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}, head)

        def authorized(self, head):
            if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
                self.error(401, "GatedRepo", "Access to model %s is restricted. You must have access to it "
                                             "and be authenticated to access it." % repo.repo_id, head)
                return False
            return True

        def do_HEAD(self):
            self.handle_any(head=True)

        def do_GET(self):
            self.handle_any(head=False)

        def handle_any(self, head):
            self.record()
            path = unquote(self.path.split("?", 1)[0])
            api = "/api/models/"
            if path.startswith(api):
                rest = path[len(api):]
                if not rest.startswith(repo.repo_id + "/revision/"):
                    return self.error(401, "RepoNotFound", "Repository not found", head)
                if not self.authorized(head):
                    return
                rev = rest[len(repo.repo_id + "/revision/"):]
                if rev not in ("main", repo.commit):
                    return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, head)
                body = json.dumps({"id": repo.repo_id, "sha": repo.commit,
                                   "siblings": [{"rfilename": n} for n in sorted(repo.files)]}).encode()
                return self.send(200, body, {"Content-Type": "application/json"}, head)
            if path.startswith("/lfs/"):
                return self.serve_lfs(path[5:], head)
            prefix = "/" + repo.repo_id + "/resolve/"
            if not path.startswith(prefix):
                return self.error(401, "RepoNotFound", "Repository not found", head)
            if not self.authorized(head):
                return
            rev, _, name = path[len(prefix):].partition("/")
            if rev not in ("main", repo.commit):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, head)
            if name not in repo.files:
                return self.error(404, "EntryNotFound", "Entry not found", head)
            data = repo.files[name]
            common = {"X-Repo-Commit": repo.commit}
            if name.endswith(LFS_SUFFIXES):
                sha = hashlib.sha256(data).hexdigest()
                common.update({"X-Linked-Etag": '"%s"' % sha, "X-Linked-Size": str(len(data)),
                               "ETag": '"%s"' % git_blob_sha1(data),
                               "Location": "http://127.0.0.1:%d/lfs/%s" % (state["port"], sha)})
                return self.send(302, b"", common, head)
            common["ETag"] = '"%s"' % git_blob_sha1(data)
            return self.send(200, data, common, head)

        def serve_lfs(self, sha, head):
            data = repo.by_sha.get(sha)
            if data is None:
                return self.send(404, b"no such object", {}, head)
            if args.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
                if start >= len(data):
                    return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)}, head)
            body = data[start:]
            status = 206 if start else 200
            headers = {"ETag": '"%s"' % sha, "Accept-Ranges": "bytes"}
            if start:
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
            cut = False
            with state["lock"]:
                if not head and args.cut_after is not None and state["cuts"] < args.cut_times:
                    state["cuts"] += 1
                    cut = True
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if cut:
                self.wfile.write(body[:args.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            if args.chunk_delay:  # slow transfer, so concurrent clients overlap
                for i in range(0, len(body), 16384):
                    self.wfile.write(body[i:i + 16384])
                    self.wfile.flush()
                    time.sleep(args.chunk_delay)
                return
            self.wfile.write(body)

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="folder whose files are the repo")
    p.add_argument("--repo", required=True, help="org/name")
    p.add_argument("--commit", default="0123456789abcdef0123456789abcdef01234567")
    p.add_argument("--port-file", required=True)
    p.add_argument("--token")
    p.add_argument("--corrupt", action="store_true")
    p.add_argument("--cut-after", type=int)
    p.add_argument("--cut-times", type=int, default=1)
    p.add_argument("--log")
    p.add_argument("--chunk-delay", type=float, default=0.0, help="seconds to wait after each 16 KB of LFS body")
    p.add_argument("--max-seconds", type=float, default=120.0)
    args = p.parse_args()

    repo = Repo(args.root, args.repo, args.commit)
    state = {"lock": threading.Lock(), "cuts": 0, "port": 0}
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(repo, args, state))
    server.daemon_threads = True
    state["port"] = server.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(state["port"]))
    os.replace(tmp, args.port_file)
    # Bounded life: stop by itself even if the test that started it dies.
    threading.Timer(args.max_seconds, server.shutdown).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
