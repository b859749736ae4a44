#!/usr/bin/env python3
"""The lab's stand-in for AWS's RDS truststore: serves DIRECTORY over HTTPS (TLS with CERT and KEY,
both PEM) on ADDRESS:PORT, answering 404 for what it does not hold, so a PuppetDB host's first boot
fetches and checks its database's CA bundle as it does from AWS.

usage: truststore.py ADDRESS PORT DIRECTORY CERT KEY
Serves until killed.
"""
import functools
import http.server
import ssl
import sys


def main() -> None:
    address, port, directory, cert, key = sys.argv[1:6]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    server = http.server.ThreadingHTTPServer((address, int(port)), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
