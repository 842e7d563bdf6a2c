package vp8

import (
	"bytes"
	"testing"
)

// FuzzParseRewrite: Parse never panics, and rewriting a parsed descriptor
// with its own values leaves the payload unchanged.
func FuzzParseRewrite(f *testing.F) {
	for _, seed := range [][]byte{nil, {0x90}, {0x90, 0xe0, 0x81, 0x02, 0x33}, {0x90, 0x80, 0x05}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		d, ok := Parse(p)
		if !ok {
			return
		}
		q := bytes.Clone(p)
		d.Rewrite(q, d.PictureID, d.TL0PicIdx)
		if !bytes.Equal(p, q) {
			t.Fatalf("Rewrite with parsed values changed % x into % x", p, q)
		}
	})
}
