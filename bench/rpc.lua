-- wrk script: POST the course's JSON-RPC call to "/" (or to the path given as the URL's path).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc": "2.0", "method": "add", "params": [10, 2], "id": 1}'
