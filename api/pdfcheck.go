package api

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
)

// A presented PDF is rendered by every participant's browser: the server checks it first,
// without rendering it. It must look like a PDF (the header, the end marker), its
// compressed streams must not expand beyond a budget (a "bomb" would freeze the browsers),
// and its pages, counted from the page objects in the file and in its object streams, must
// be between 1 and the limit.

// pdfLimits bound what checkPDF accepts.
type pdfLimits struct {
	// MaxPages is the most pages.
	MaxPages int
	// MaxExpanded is the most bytes the file's Flate streams may expand to, together.
	MaxExpanded int64
}

// maxPDFStreams bounds the streams of a PDF checkPDF looks at: far more than a deck of
// 500 pages has, few enough that looking at each stays cheap.
const maxPDFStreams = 100000

// Reasons a PDF is refused.
var (
	errNotPDF    = errors.New("not a PDF file")
	errPDFBomb   = errors.New("the PDF expands to too much data")
	errPDFPages  = errors.New("the PDF has too many pages")
	errPDFNoPage = errors.New("no page found in the PDF")
	errPDFShape  = errors.New("the PDF has too many streams")
)

var (
	pdfPage      = regexp.MustCompile(`/Type\s*/Page(?:[^A-Za-z0-9]|$)`)
	pdfStream    = regexp.MustCompile(`stream\r?\n`)
	pdfEndStream = regexp.MustCompile(`endstream`)
)

// checkPDF tells how many pages b has, or why it is refused.
func checkPDF(b []byte, lim pdfLimits) (int, error) {
	head := b[:min(len(b), 1024)]
	tail := b[max(0, len(b)-1024):]
	if !bytes.Contains(head, []byte("%PDF-")) || !bytes.Contains(tail, []byte("%%EOF")) {
		return 0, errNotPDF
	}
	pages := len(pdfPage.FindAllIndex(b, -1))
	budget := lim.MaxExpanded
	streams := pdfStream.FindAllIndex(b, maxPDFStreams+1)
	if len(streams) > maxPDFStreams {
		return 0, errPDFShape
	}
	ends := pdfEndStream.FindAllIndex(b, -1)
	for _, loc := range streams {
		if bytes.HasSuffix(b[:loc[0]], []byte("end")) {
			continue // the end of a stream, not one
		}
		dict := b[max(0, loc[0]-1024):loc[0]]
		if i := bytes.LastIndex(dict, []byte("<<")); i >= 0 {
			dict = dict[i:]
		}
		if !bytes.Contains(dict, []byte("/FlateDecode")) {
			continue
		}
		data := b[loc[1]:]
		// The first endstream after the data, found among all of them once: a file of
		// many streams without their ends costs no more than one with them.
		if i, _ := slices.BinarySearchFunc(ends, loc[1], func(e []int, at int) int { return e[0] - at }); i < len(ends) {
			data = b[loc[1]:ends[i][0]]
		}
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			continue // not zlib data: the browser will find it damaged, not expand it
		}
		var out bytes.Buffer
		n, _ := io.Copy(&out, io.LimitReader(zr, budget+1))
		budget -= n
		if budget < 0 {
			return 0, errPDFBomb
		}
		if bytes.Contains(dict, []byte("/ObjStm")) {
			pages += len(pdfPage.FindAllIndex(out.Bytes(), -1))
		}
	}
	switch {
	case pages == 0:
		return 0, errPDFNoPage
	case pages > lim.MaxPages:
		return 0, fmt.Errorf("%w: %d, at most %d", errPDFPages, pages, lim.MaxPages)
	}
	return pages, nil
}
