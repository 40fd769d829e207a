"""fake_hub.py — a local stand-in for the Hugging Face Hub, standard library only.

Two HTTP servers on 127.0.0.1 (ephemeral ports): the "Hub" (API and resolve URLs) and a
"CDN" that serves LFS blobs by sha256, the way huggingface.co redirects LFS downloads
to a pre-signed URL on another host. It speaks what clients rely on (PEERS.md §3):

  GET  /api/models/{org}/{name}/revision/{rev}      {"id", "sha", "siblings": [...]}
  GET  /api/models/{org}/{name}/tree/{rev}?recursive=true[&cursor=N]
                                                    a page of entries + Link: <...>; rel="next"
  HEAD/GET /{org}/{name}/resolve/{rev}/{path}       non-LFS: 200 with ETag (git sha1);
                                                    LFS: 302 to the CDN, X-Linked-Etag (sha256),
                                                    X-Linked-Size; always X-Repo-Commit
  GET  CDN /blob/{sha256}?sig=...                   Range: bytes=N- answered with 206

Errors carry X-Error-Code (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound).
A repo alias answers resolve URLs with a *relative* redirect (a renamed repo).
Fault injection, per blob (consumed one per GET, in order):
  "drop"          send half the body then close the connection
  "stall"         send half the body then stop sending for `stall_seconds`
  "503"           answer 503 (a 5xx burst is several of these)
  "ignore_range"  answer 200 with the whole body even when Range was asked
  "wrong"         send bytes that are not the blob's (same length)
  "bad_range"     answer a Range request with 206 but a Content-Range from byte 0
and `slow[sha]` = seconds per 4 KiB chunk (persistent throttle); `api_faults` is a list
of ("429", retry_after) consumed by API requests. Every request's method, path and
headers are recorded in `log` (to check, e.g., that the token never reaches the CDN).

The servers run in daemon threads of the test process and shut themselves down after
`lifetime` seconds whatever happens.
"""

import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Repo:
    def __init__(self, repo_id, gated=False, private=False):
        self.id = repo_id
        self.gated = gated
        self.private = private
        self.commits = {}  # commit -> {path: bytes}
        self.refs = {}  # branch/tag -> commit
        self.lfs = set()  # paths stored in LFS

    def add_commit(self, files, lfs, branch="main"):
        h = hashlib.sha1(self.id.encode() + branch.encode() + json.dumps(sorted(
            (p, sha256(d)) for p, d in files.items())).encode()).hexdigest()
        self.commits[h] = dict(files)
        self.lfs |= set(lfs)
        self.refs[branch] = h
        return h

    def commit_of(self, rev):
        if rev in self.commits:
            return rev
        return self.refs.get(rev)


class FakeHub:
    def __init__(self, page_size=3, lifetime=240, stall_seconds=3.0):
        self.repos = {}
        self.aliases = {}  # old id -> new id (resolve URLs answer a relative redirect)
        self.page_size = page_size
        self.lifetime = lifetime
        self.stall_seconds = stall_seconds
        self.faults = {}  # sha256 or git sha1 -> list of faults
        self.slow = {}  # sha256 -> seconds per 4 KiB chunk
        self.api_faults = []
        self.slow_all = 0  # seconds per chunk for every download (to observe concurrency)
        self.active = 0  # bodies being sent right now, and the most seen at once
        self.max_active = 0
        self.odd_etags = False  # non-LFS ETags that are no checksum (the listing still has one)
        self.missing = set()  # (repo_id, path): listed in the tree, but resolve says EntryNotFound
        self.tokens = {"hf_granted"}  # tokens that unlock private and gated repos
        self.log = []
        self.lock = threading.Lock()
        self.blobs = {}  # sha256 -> bytes (the CDN's store)
        self.servers = []

    # ---- set-up ---------------------------------------------------------------------
    def add_repo(self, repo_id, files, lfs=(), branch="main", gated=False, private=False):
        repo = self.repos.get(repo_id) or Repo(repo_id, gated, private)
        self.repos[repo_id] = repo
        commit = repo.add_commit(files, lfs, branch)
        for p in lfs:
            self.blobs[sha256(files[p])] = files[p]
        return commit

    def record(self, server, method, path, headers):
        with self.lock:
            self.log.append({"server": server, "method": method, "path": path,
                             "headers": {k.lower(): v for k, v in headers.items()}})

    def take_fault(self, key):
        with self.lock:
            lst = self.faults.get(key)
            return lst.pop(0) if lst else None

    # ---- life -----------------------------------------------------------------------
    def start(self):
        hub = self

        class ApiHandler(Handler):
            server_kind = "api"
            fake = hub

        class CdnHandler(Handler):
            server_kind = "cdn"
            fake = hub

        for cls in (ApiHandler, CdnHandler):
            srv = ThreadingHTTPServer(("127.0.0.1", 0), cls)
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.servers.append(srv)
        self.endpoint = "http://127.0.0.1:%d" % self.servers[0].server_address[1]
        self.cdn = "http://127.0.0.1:%d" % self.servers[1].server_address[1]
        t = threading.Timer(self.lifetime, self.stop)
        t.daemon = True
        t.start()
        return self

    def stop(self):
        for s in self.servers:
            try:
                s.shutdown()
                s.server_close()
            except Exception:
                pass
        self.servers = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_kind = "api"
    fake = None

    def log_message(self, *args):  # quiet
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # a client that gave up (killed, timed out): expected in these tests

    def do_HEAD(self):
        self.handle_any(head=True)

    def do_GET(self):
        self.handle_any(head=False)

    # ---- helpers --------------------------------------------------------------------
    def send(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, status, code, message, head, extra=None):
        h = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json",
             "X-Request-Id": "Root=fake-%d" % int(time.time() * 1000)}
        h.update(extra or {})
        self.send(status, json.dumps({"error": message}).encode(), h, head)

    def authorized(self, repo):
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.fake.tokens

    def repo_access(self, repo_id, head, api=False):
        """The repo, or None after answering the error the Hub gives. Like the real Hub, a
        gated repo's metadata and listing are public; its files are not."""
        hub = self.fake
        if self.headers.get("Authorization", "").startswith("Bearer hf_bad"):
            self.error(401, "", "Invalid credentials in Authorization header", head)
            return None
        repo = hub.repos.get(hub.aliases.get(repo_id, repo_id))
        if repo is None or (repo.private and not self.authorized(repo)):
            self.error(401, "RepoNotFound", "Repository not found", head)
            return None
        if repo.gated and not api and not self.authorized(repo):
            status = 403 if self.headers.get("Authorization") else 401
            self.error(status, "GatedRepo", "Access to model %s is restricted." % repo.id, head)
            return None
        return repo

    # ---- dispatch -------------------------------------------------------------------
    def handle_any(self, head):
        self.fake.record(self.server_kind, self.command, self.path, dict(self.headers))
        try:
            if self.server_kind == "cdn":
                self.cdn(head)
            else:
                self.api(head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def api(self, head):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if parts[0] == "api":
            with self.fake.lock:
                fault = self.fake.api_faults.pop(0) if self.fake.api_faults else None
            if fault and fault[0] == "429":
                return self.error(429, "RateLimited", "Too many requests", head,
                                  {"Retry-After": str(fault[1])})
            if fault and fault[0] == "503":
                return self.error(503, "", "Service unavailable", head)
            if len(parts) >= 6 and parts[1] == "models" and parts[4] in ("revision", "tree"):
                repo_id = parts[2] + "/" + parts[3]
                repo = self.repo_access(repo_id, head, api=True)
                if repo is None:
                    return
                rev = urllib.parse.unquote(parts[5])
                commit = repo.commit_of(rev)
                if commit is None:
                    return self.error(404, "RevisionNotFound", "Invalid rev id: %s" % rev, head)
                if parts[4] == "revision":
                    return self.revision(repo, commit, head)
                prefix = "/".join(urllib.parse.unquote(p) for p in parts[6:])
                return self.tree(repo, commit, prefix, query, head)
            return self.error(404, "", "Not found", head)
        # /{org}/{name}/resolve/{rev}/{path...}
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id = parts[0] + "/" + parts[1]
            hub = self.fake
            if repo_id in hub.aliases:
                new = hub.aliases[repo_id]
                loc = "/" + new + url.path[len("/" + repo_id):]
                return self.send(307, b"", {"Location": loc}, head)
            repo = self.repo_access(repo_id, head)
            if repo is None:
                return
            rev = urllib.parse.unquote(parts[3])
            commit = repo.commit_of(rev)
            if commit is None:
                return self.error(404, "RevisionNotFound", "Invalid rev id: %s" % rev, head)
            fpath = "/".join(urllib.parse.unquote(p) for p in parts[4:])
            files = repo.commits[commit]
            if fpath not in files or (repo.id, fpath) in hub.missing:
                return self.error(404, "EntryNotFound", "Entry not found", head,
                                  {"X-Repo-Commit": commit})
            data = files[fpath]
            if fpath in repo.lfs:
                digest = sha256(data)
                loc = "%s/blob/%s?sig=%s" % (hub.cdn, digest, commit[:8])
                return self.send(302, b"", {
                    "Location": loc, "X-Repo-Commit": commit,
                    "X-Linked-Etag": '"%s"' % digest, "X-Linked-Size": str(len(data)),
                    "ETag": 'W/"%s"' % git_sha1(b"pointer" + data)}, head)
            etag = git_sha1(data) if not hub.odd_etags else "odd-" + git_sha1(data)[:20]
            return self.serve_bytes(data, git_sha1(data), head,
                                    {"X-Repo-Commit": commit, "ETag": '"%s"' % etag})
        return self.error(404, "", "Not found", head)

    def revision(self, repo, commit, head):
        files = repo.commits[commit]
        body = {"id": repo.id, "modelId": repo.id, "sha": commit, "private": repo.private,
                "gated": repo.gated, "siblings": [{"rfilename": p} for p in sorted(files)],
                "tags": [], "downloads": 0, "likes": 0}
        self.send(200, json.dumps(body).encode(), {"Content-Type": "application/json"}, head)

    def tree(self, repo, commit, prefix, query, head):
        files = repo.commits[commit]
        recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
        entries, dirs = [], set()
        for p in sorted(files):
            if prefix and not p.startswith(prefix + "/"):
                continue
            rel = p[len(prefix) + 1:] if prefix else p
            if "/" in rel and not recursive:
                d = (prefix + "/" if prefix else "") + rel.split("/")[0]
                if d not in dirs:
                    dirs.add(d)
                    entries.append({"type": "directory", "oid": git_sha1(d.encode()), "size": 0,
                                    "path": d})
                continue
            segs = p.split("/")
            for i in range(1, len(segs)):
                d = "/".join(segs[:i])
                if d not in dirs and (not prefix or d.startswith(prefix + "/")):
                    dirs.add(d)
                    entries.append({"type": "directory", "oid": git_sha1(d.encode()), "size": 0,
                                    "path": d})
            data = files[p]
            e = {"type": "file", "path": p, "size": len(data)}
            if p in repo.lfs:
                e["oid"] = git_sha1(b"version https://git-lfs.github.com/spec/v1\noid sha256:"
                                    + sha256(data).encode())
                e["lfs"] = {"oid": sha256(data), "size": len(data), "pointerSize": 134}
            else:
                e["oid"] = git_sha1(data)
            entries.append(e)
        cursor = int(query.get("cursor", ["0"])[0])
        page = entries[cursor:cursor + self.fake.page_size]
        headers = {"Content-Type": "application/json"}
        if cursor + self.fake.page_size < len(entries):
            q = dict((k, v[0]) for k, v in query.items())
            q["cursor"] = str(cursor + self.fake.page_size)
            nxt = "%s%s?%s" % (self.fake.endpoint, urllib.parse.urlsplit(self.path).path,
                               urllib.parse.urlencode(q))
            headers["Link"] = '<%s>; rel="next"' % nxt
        self.send(200, json.dumps(page).encode(), headers, head)

    def cdn(self, head):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "blob" or parts[1] not in self.fake.blobs:
            return self.send(404, b"no such blob", {}, head)
        digest = parts[1]
        self.serve_bytes(self.fake.blobs[digest], digest, head, {"ETag": '"%s"' % digest})

    def serve_bytes(self, data, key, head, headers):
        fault = None if head else self.fake.take_fault(key)
        if fault == "503":
            return self.error(503, "", "Service temporarily unavailable", head)
        start = 0
        rng = self.headers.get("Range")
        if rng and fault != "ignore_range" and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data) and len(data) > 0:
                return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)}, head)
        if fault == "bad_range" and start:
            # A 206 of the right length whose Content-Range starts at 0, not where asked.
            n = len(data) - start
            self.send_response(206)
            self.send_header("Content-Range", "bytes 0-%d/%d" % (n - 1, len(data)))
            self.send_header("Content-Length", str(n))
            self.end_headers()
            self.wfile.write(data[:n])
            return
        body = data[start:]
        if fault == "wrong":
            body = bytes((b ^ 0x5A) for b in body)
        status = 206 if start else 200
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        slow = self.fake.slow.get(key)
        if fault in ("drop", "stall"):
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            if fault == "stall":
                time.sleep(self.fake.stall_seconds)
            self.close_connection = True
            return
        slow = slow or self.fake.slow_all
        with self.fake.lock:
            self.fake.active += 1
            self.fake.max_active = max(self.fake.max_active, self.fake.active)
        counted = True
        try:
            chunk = 4096
            for off in range(0, len(body), chunk):
                if slow:  # before the write: once the last byte is out, this body is over
                    time.sleep(slow)
                if off + chunk >= len(body):
                    with self.fake.lock:
                        self.fake.active -= 1
                        counted = False
                self.wfile.write(body[off:off + chunk])
                if slow:
                    self.wfile.flush()
        finally:
            if counted:
                with self.fake.lock:
                    self.fake.active -= 1
