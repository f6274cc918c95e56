-- invoice_pdf.lua - the GST invoice as a PDF: GET /invoices/<id>.pdf of one
-- issued 3-line invoice with the owner's token, rendered afresh each time
-- (no cache: cairo + pango + the UPI QR). A request is one PDF.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = "GET"
wrk.path = "/invoices/" .. os.getenv("BENCH_INVOICE_ID") .. ".pdf"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
