"""Call sister's HTTPS servers as the course's Python clients would, trusting the lab's CA, and print
one JSON line per call: {"call", "ok", "value"} (value: the answer, or the error's text).

Run: python3 https_probe.py rest BASE_URL CA_FILE      (e.g. https://localhost:5151 lab/ca.crt)
     python3 https_probe.py soap WSDL_URL CA_FILE      (zeep, e.g. https://localhost:8000/?wsdl)

Each mode also calls once without the CA (requests' default: certifi's public CAs), which must fail
with a certificate error.

Note: requests lets the environment variable REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) replace a
Session's `verify`; `verify=` given to the call itself wins. The tests unset both; a student whose
system sets them should pass verify= on each call.
"""
import json
import sys

import requests


def report(call, fn):
    try:
        value = fn()
        print(json.dumps({"call": call, "ok": True, "value": value}), flush=True)
    except Exception as e:  # the error's text is what the test looks at
        print(json.dumps({"call": call, "ok": False, "value": f"{type(e).__name__}: {e}"}), flush=True)


mode, url, ca = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "rest":
    report("add", lambda: requests.get(url + "/add?a=10&b=5", verify=ca, timeout=10).json())
    report("mul", lambda: requests.get(url + "/mul?a=10&b=5", verify=ca, timeout=10).json())
    report("untrusted", lambda: requests.get(url + "/add?a=1&b=2", timeout=10).json())
elif mode == "soap":
    import zeep

    def call(verify):
        session = requests.Session()
        session.verify = verify
        client = zeep.Client(url, transport=zeep.Transport(session=session))
        return {
            "address": client.service._binding_options["address"],
            "add": client.service.add(10, 5),
        }

    report("zeep", lambda: call(ca))
    report("untrusted", lambda: call(True))
else:
    sys.exit(f"unknown mode {mode}")
