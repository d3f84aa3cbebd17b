package api

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testPDF builds a small PDF of n pages, written plainly.
func testPDF(n int) []byte {
	var b strings.Builder
	b.WriteString("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	fmt.Fprintf(&b, "2 0 obj << /Type /Pages /Count %d /Kids [] >> endobj\n", n)
	for i := range n {
		fmt.Fprintf(&b, "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n", i+3)
	}
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return []byte(b.String())
}

// deflated is data compressed with zlib.
func deflated(data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write(data)
	_ = w.Close()
	return b.Bytes()
}

// withStream is a PDF holding one Flate stream of the given dictionary entries.
func withStream(dict string, data []byte, plainPages int) []byte {
	pdf := testPDF(plainPages)
	body := pdf[:len(pdf)-len("%%EOF\n")]
	var b bytes.Buffer
	b.Write(body)
	fmt.Fprintf(&b, "99 0 obj << %s /Filter /FlateDecode /Length %d >>\nstream\n", dict, len(data))
	b.Write(data)
	b.WriteString("\nendstream\nendobj\n%%EOF\n")
	return b.Bytes()
}

func TestCheckPDF(t *testing.T) {
	lim := pdfLimits{MaxPages: 5, MaxExpanded: 1 << 20}
	objects := deflated([]byte("10 0 11 60 << /Type /Page /Parent 2 0 R >> << /Type/Page >>"))
	tests := []struct {
		name  string
		pdf   []byte
		pages int
		err   error
	}{
		{"three plain pages", testPDF(3), 3, nil},
		{"pages in an object stream", withStream("/Type /ObjStm /N 2", objects, 1), 3, nil},
		{"a content stream does not count its text", withStream("", deflated([]byte("/Type /Page")), 1), 1, nil},
		{"not a PDF", []byte("GIF89a... %%EOF"), 0, errNotPDF},
		{"no end marker", testPDF(1)[:40], 0, errNotPDF},
		{"no page", testPDF(0), 0, errPDFNoPage},
		{"too many pages", testPDF(6), 0, errPDFPages},
		{"a bomb", withStream("", deflated(make([]byte, 2<<20)), 1), 0, errPDFBomb},
		{"streams without end", withStream("", []byte(strings.Repeat("<< /FlateDecode >> stream\n", maxPDFStreams+1)), 1), 0, errPDFShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages, err := checkPDF(tt.pdf, lim)
			if !errors.Is(err, tt.err) || pages != tt.pages {
				t.Errorf("got %d pages, error %v; want %d, %v", pages, err, tt.pages, tt.err)
			}
		})
	}
}
