"""The course's SOAP client (zeep 4.2): reads the WSDL, then calls add(10, 5).

Run: python3 soap_client.py [WSDL_URL] [OPERATION A B]   (default http://soap-server:8000/?wsdl add 10 5)

zeep builds the call from the WSDL alone: the endpoint, the namespace, the soapAction. The tests run it
against `sister soap server`.
"""
import sys

from zeep import Client

if __name__ == "__main__":
    wsdl = sys.argv[1] if len(sys.argv) > 1 else "http://soap-server:8000/?wsdl"
    op = sys.argv[2] if len(sys.argv) > 2 else "add"
    a = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    b = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    client = Client(wsdl)
    result = getattr(client.service, op)(a, b)
    if op == "add":
        print(f"Hasil penjumlahan dari server SOAP: {result}")
    else:
        print(f"Hasil {op} dari server SOAP: {result}")
