"""Every way to the network has a known home (README "Architecture": collectors go through the
polite client and its allow-list): a static scan of every module of the toolkit for calls and
subclasses that open connections or resolve names (requests, urllib3, urllib.request,
http.client, socket, yt-dlp's ``YoutubeDL``, instaloader's ``Instaloader``, httpx, aiohttp, ...).

Each one found must be in :data:`HOMES` with the reason it is allowed there, and every entry of
:data:`HOMES` must still be found (the table never says more than the code does). A new
``requests.get`` in a cleaning step, or a ``YoutubeDL`` made outside ``collectors.ytdl_net``,
fails here; the behaviour of the allowed ones (allow-list, redirects, robots.txt, yt-dlp and
instaloader routed through the polite client) is tested in
``tests/collectors/test_network_rules.py``, ``test_http.py`` and ``test_hosts.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_layering import ROOT, project_files

#: Dotted names (after import aliases are resolved) that reach the network when called or
#: subclassed; a name matches itself and everything under it.
NETWORK = (
    "requests.get",
    "requests.post",
    "requests.put",
    "requests.patch",
    "requests.delete",
    "requests.head",
    "requests.request",
    "requests.Session",
    "requests.session",
    "requests.sessions",
    "requests.adapters.HTTPAdapter",
    "requests.api",
    "urllib3.PoolManager",
    "urllib3.ProxyManager",
    "urllib3.HTTPConnectionPool",
    "urllib3.HTTPSConnectionPool",
    "urllib3.connection_from_url",
    "urllib3.request",
    "urllib3.poolmanager",
    "urllib3.connectionpool",
    "urllib.request",
    "http.client",
    "socket.socket",
    "socket.create_connection",
    "socket.create_server",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyname_ex",
    "socket.gethostbyaddr",
    "socketserver",
    "http.server",
    "yt_dlp.YoutubeDL",
    "yt_dlp.main",
    "yt_dlp.networking",
    "instaloader.Instaloader",
    "instaloader.InstaloaderContext",
    "httpx",
    "aiohttp",
    "ftplib",
    "smtplib",
    "telnetlib",
    "xmlrpc",
    "webbrowser",
)

#: (module path, dotted name) -> why it may reach the network there.
HOMES = {
    ("collectors/http.py", "requests.Session"): "the polite client's own session",
    ("collectors/http.py", "requests.adapters.HTTPAdapter"): "the polite client's transport",
    (
        "collectors/ytdl_net.py",
        "requests.Session",
    ): "PoliteRH: yt-dlp's only request handler, on the polite client",
    ("collectors/ytdl_net.py", "yt_dlp.YoutubeDL"): "PoliteYoutubeDL (polite_youtubedl): the one YoutubeDL",
    ("collectors/ytdl_net.py", "yt_dlp.networking.common.RequestHandler"): "PoliteRH, the handler above",
    (
        "collectors/ytdl_net.py",
        "yt_dlp.networking.common.Response",
    ): "PoliteResponse: wraps the client's answer",
    (
        "collectors/transport.py",
        "requests.adapters.HTTPAdapter",
    ): "PoliteAdapter / RefusingAdapter: library sessions",
    ("collectors/instaloader_net.py", "requests.Session"): "_RefusingSession: sends nothing until bound",
    (
        "collectors/instagram.py",
        "instaloader.Instaloader",
    ): "bound to PoliteAdapter (bind_context) or guarded",
    (
        "annotations/review/server.py",
        "http.server.ThreadingHTTPServer",
    ): "the review server (loopback by default)",
    ("annotations/review/server.py", "http.server.BaseHTTPRequestHandler"): "the review server's handler",
    ("annotations/review/server.py", "socket.getaddrinfo"): "whether --host is a loopback address",
    ("movingfashion/world/server.py", "http.server.ThreadingHTTPServer"): "the synthetic sites, on loopback",
    ("movingfashion/world/server.py", "http.server.BaseHTTPRequestHandler"): "the synthetic sites' handler",
    ("movingfashion/executors/head_watch.py", "socket.create_connection"): "probes the user's Ray head",
    ("movingfashion/executors/ray_backend.py", "socket.create_connection"): "probes the user's Ray head",
    ("movingfashion/executors/ray_backend.py", "socket.getaddrinfo"): "whether a Ray address is this machine",
}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the dotted name it stands for, over every import of the module."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    text = ast.unparse(node)
    head, _, rest = text.partition(".")
    if head not in aliases or not all(p.isidentifier() for p in text.split(".")):
        return None
    return aliases[head] + ("." + rest if rest else "")


def _network(name: str) -> bool:
    return any(name == n or name.startswith(n + ".") for n in NETWORK)


def network_uses(source: str) -> set[str]:
    """The network names ``source`` calls or subclasses (imports resolved)."""
    if not any(n.split(".")[0] in source for n in NETWORK):
        return set()  # no network module is imported (an import names it): nothing to parse
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        targets = [node.func] if isinstance(node, ast.Call) else []
        if isinstance(node, ast.ClassDef):
            targets = list(node.bases)
        for t in targets:
            name = _dotted(t, aliases)
            if name and _network(name):
                found.add(name)
    return found


def test_every_way_to_the_network_has_a_known_home():
    found = {
        (path.relative_to(ROOT).as_posix(), name)
        for path in project_files()
        for name in network_uses(path.read_text(encoding="utf-8"))
    }
    unknown = sorted(found - HOMES.keys())
    assert not unknown, (
        "network use outside its homes (go through collectors.http.PoliteClient, or add the place "
        "to HOMES with the reason it is safe):\n" + "\n".join(f"{p}: {n}" for p, n in unknown)
    )
    stale = sorted(HOMES.keys() - found)
    assert not stale, "HOMES names uses the code no longer has:\n" + "\n".join(map(str, stale))


def test_the_scan_sees_aliases_function_imports_and_subclasses():
    src = (
        "import requests as r\n"
        "from urllib.request import urlopen\n"
        "def f():\n"
        "    import yt_dlp\n"
        "    class D(yt_dlp.YoutubeDL): pass\n"
        "    r.get('http://x'); urlopen('http://x')\n"
        "    from urllib.parse import urlsplit\n"
        "    urlsplit('http://x')\n"
    )
    assert network_uses(src) == {"requests.get", "urllib.request.urlopen", "yt_dlp.YoutubeDL"}


def test_every_home_names_a_module_of_the_toolkit():
    assert all((Path(ROOT) / p).is_file() for p, _ in HOMES)
