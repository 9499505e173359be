"""The course's SOAP server (spyne 2.14): a calculator with one operation, `add`.

Run: python3 soap_server.py [PORT]   (default 8000, on 0.0.0.0 as in the course's compose file)
WSDL: http://127.0.0.1:8000/?wsdl

The tests use it as the real peer of `sister soap client`.
"""
import logging
import sys
from wsgiref.simple_server import make_server

from spyne import Application, Integer, ServiceBase, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication


class CalculatorService(ServiceBase):
    @rpc(Integer, Integer, _returns=Integer)
    def add(ctx, a, b):
        return a + b


application = Application(
    [CalculatorService],
    tns="spyne.examples.calculator",
    in_protocol=Soap11(validator="lxml"),
    out_protocol=Soap11(),
)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    wsgi_app = WsgiApplication(application)
    server = make_server("0.0.0.0", port, wsgi_app)
    print(f"SOAP server listening on port {port}; WSDL at http://127.0.0.1:{port}/?wsdl", flush=True)
    server.serve_forever()
