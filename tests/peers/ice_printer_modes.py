"""ZeroC Ice 3.7 (Python) against a Printer server: everything a real Ice client may send besides the
course's two calls, for sister's server tests (not one of the course's programs).

Run: /usr/bin/python3 ice_printer_modes.py HOST PORT

Prints one line per check, `ok <name>` or `FAIL <name>: <why>`, then `done`:
ice_ping, ice_id, ice_ids, ice_isA on ::Ice::Object and on a foreign type, a oneway printString, a batch
of three oneway printStrings (one BatchRequest), a compressed printString (over Ice's 100-byte
threshold, so bzip2 on the wire), a request with a context, an unknown identity (ObjectNotExist), a
facet (FacetNotExist), an unknown operation through ice_invoke (OperationNotExist), and a twoway call
after all of that on the same connection.
"""
import os
import sys

import Ice

Ice.loadSlice(os.path.join(os.path.dirname(os.path.abspath(__file__)), "course", "Demo.ice"))
import Demo  # noqa: E402

host, port = sys.argv[1], sys.argv[2]
ep = f"tcp -h {host} -p {port}"


def check(name, fn):
    try:
        fn()
        print(f"ok {name}", flush=True)
    except Exception as e:  # noqa: BLE001 - the test reads the line
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)


def expect_raise(exc, fn):
    def run():
        try:
            fn()
        except exc:
            return
        raise AssertionError(f"no {exc.__name__}")
    return run


def expect(value, fn):
    def run():
        got = fn()
        if got != value:
            raise AssertionError(f"got {got!r}, expected {value!r}")
    return run


with Ice.initialize(sys.argv) as communicator:
    base = communicator.stringToProxy(f"SimplePrinter1:{ep}")
    printer = Demo.PrinterPrx.checkedCast(base)
    check("checkedCast", lambda: printer or (_ for _ in ()).throw(AssertionError("None")))
    check("ice_ping", base.ice_ping)
    check("ice_id", expect("::Demo::Printer", base.ice_id))
    check("ice_ids", expect(["::Demo::Printer", "::Ice::Object"], base.ice_ids))
    check("ice_isA_object", expect(True, lambda: base.ice_isA("::Ice::Object")))
    check("ice_isA_other", expect(False, lambda: base.ice_isA("::Bank::Account")))
    oneway = printer.ice_oneway()
    check("oneway", lambda: oneway.printString("oneway call"))
    batch = printer.ice_batchOneway()

    def run_batch():
        for i in range(3):
            batch.printString(f"batch call {i}")
        batch.ice_flushBatchRequests()
    check("batch", run_batch)
    compressed = printer.ice_compress(True)
    check("compressed", lambda: compressed.printString("compressed " + "x" * 300))
    check("context", lambda: printer.printString("with a context", {"k": "v"}))
    ghost = Demo.PrinterPrx.uncheckedCast(communicator.stringToProxy(f"Nobody:{ep}"))
    check("object_not_exist", expect_raise(Ice.ObjectNotExistException, lambda: ghost.printString("x")))
    facet = Demo.PrinterPrx.uncheckedCast(printer.ice_facet("admin"))
    check("facet_not_exist", expect_raise(Ice.FacetNotExistException, lambda: facet.printString("x")))
    check("operation_not_exist", expect_raise(
        Ice.OperationNotExistException,
        lambda: base.ice_invoke("shout", Ice.OperationMode.Normal, b"\x06\x00\x00\x00\x01\x01")))
    check("after_all", lambda: printer.printString("still here"))
print("done", flush=True)
