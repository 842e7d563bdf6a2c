package billing

import (
	"html/template"
	"io"
)

var receiptTmpl = template.Must(template.New("receipt").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Atrium receipt {{.Reference}}</title>
<style>body{font-family:system-ui,sans-serif;color:#1d2330;max-width:560px;margin:2em auto}td{padding:4px 12px 4px 0}</style>
</head><body>
<h1>Receipt {{.Reference}}</h1>
<p>Atrium credits purchased by {{.Name}} &lt;{{.Email}}&gt;.</p>
<table>
<tr><td>Reference</td><td>{{.Reference}}</td></tr>
<tr><td>Package</td><td>{{.Package}}</td></tr>
<tr><td>Credits</td><td>{{.Credits}}</td></tr>
<tr><td>Amount paid</td><td>{{.Amount}}</td></tr>
<tr><td>Date</td><td>{{.PaidAt.UTC.Format "2 January 2006 15:04 MST"}}</td></tr>
</table>
<p>Paid by card through Stripe. Card details were never seen by Atrium.</p>
</body></html>
`))

// WriteReceiptHTML renders r as a standalone HTML page (escaped by html/template).
func WriteReceiptHTML(w io.Writer, r Receipt) error { return receiptTmpl.Execute(w, r) }
