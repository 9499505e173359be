-- wrk script: POST the envelope zeep sends for add(10, 5), with its SOAPAction.
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '"add"'
wrk.body = "<?xml version='1.0' encoding='utf-8'?>\n<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body><ns0:add xmlns:ns0=\"spyne.examples.calculator\"><ns0:a>10</ns0:a><ns0:b>5</ns0:b></ns0:add></soap-env:Body></soap-env:Envelope>"
