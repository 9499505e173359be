"""Probe a SOAP server. Subcommands (each prints JSON lines):

  zeep WSDL_URL OP A B ...   call OP(A, B) with zeep for each triple: {"op", "result"} or
                             {"op", "fault_code", "fault_message"}
  post URL BODY_FILE ...     POST each file's bytes as text/xml with SOAPAction "add":
                             {"status", "content_type", "body"}
  shape SPYNE_WSDL_URL SISTER_WSDL_URL
                             compare the two WSDLs for the operation `add`: {"same": bool, "diff": ...}
"""
import json
import sys

import requests


def zeep_calls(wsdl, args):
    from zeep import Client
    from zeep.exceptions import Fault

    client = Client(wsdl)
    for i in range(0, len(args), 3):
        op, a, b = args[i], int(args[i + 1]), int(args[i + 2])
        try:
            result = getattr(client.service, op)(a, b)
            print(json.dumps({"op": op, "result": result}), flush=True)
        except Fault as f:
            print(json.dumps({"op": op, "fault_code": f.code, "fault_message": f.message}), flush=True)


def posts(url, files):
    for path in files:
        with open(path, "rb") as fh:
            body = fh.read()
        r = requests.post(url, data=body, timeout=10,
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"add"'})
        print(json.dumps({"status": r.status_code, "content_type": r.headers.get("Content-Type"),
                          "body": r.text}), flush=True)


def canonical(url, keep):
    """The WSDL as nested (tag, attributes, children), keeping only what concerns the names in keep,
    without the endpoint address (it differs by port) and without namespace declarations."""
    from lxml import etree

    root = etree.fromstring(requests.get(url, timeout=10).content)

    def relevant(el):
        name = el.get("name")
        return name is None or name in keep or el.tag.endswith("}schema") or el.tag.endswith("}definitions")

    def walk(el):
        attrs = {k: v for k, v in el.attrib.items() if k != "location"}
        kids = [walk(c) for c in el if isinstance(c.tag, str) and relevant(c)]
        return [el.tag, sorted(attrs.items()), kids]

    return walk(root)


def shape(spyne_url, sister_url):
    keep = {"add", "addResponse", "a", "b", "addResult", "CalculatorService", "Application"}
    a, b = canonical(spyne_url, keep), canonical(sister_url, keep)
    print(json.dumps({"same": a == b, "spyne": a, "sister": b}), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "zeep":
        zeep_calls(sys.argv[2], sys.argv[3:])
    elif cmd == "post":
        posts(sys.argv[2], sys.argv[3:])
    elif cmd == "shape":
        shape(sys.argv[2], sys.argv[3])
